"""examiner: grade free-text answers to flashcards against a rubric of key points.

from examiner import load_rubric, Grader
grader = Grader(load_rubric("rubrics/cnn-lesson3.yaml"))
grade = grader.grade("same-conv", "The output has the same size as the input.")

The names below load on first use (PEP 562), so `import examiner`, and the
CLI's `examiner --help`, do not pay for pydantic, numpy or YAML until a name
that needs them is touched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Each public name and the module it lives in.
_EXPORTS = {
    "Calibration": ".scoring.calibration",
    "load_calibration": ".scoring.calibration",
    "JudgeSettings": ".config",
    "judge_settings": ".config",
    "load_deck": ".formats.decks",
    "ExaminerError": ".errors",
    "InputError": ".errors",
    "Problem": ".errors",
    "GradedAnswer": ".formats.labelled",
    "iter_graded": ".formats.labelled",
    "Card": ".models",
    "Deck": ".models",
    "Grade": ".models",
    "KeyPoint": ".models",
    "KeyPointResult": ".models",
    "Misconception": ".models",
    "MisconceptionResult": ".models",
    "Rubric": ".models",
    "RubricCard": ".models",
    "Submission": ".models",
    "Grader": ".scoring.grader",
    "build_rubric": ".rubric",
    "check_rubric": ".rubric",
    "load_rubric": ".rubric",
    "save_rubric": ".rubric",
    "iter_submissions": ".formats.submissions",
}

__all__ = [
    "Calibration",
    "Card",
    "Deck",
    "ExaminerError",
    "Grade",
    "GradedAnswer",
    "Grader",
    "InputError",
    "JudgeSettings",
    "KeyPoint",
    "KeyPointResult",
    "Misconception",
    "MisconceptionResult",
    "Problem",
    "Rubric",
    "RubricCard",
    "Submission",
    "__version__",
    "build_rubric",
    "check_rubric",
    "iter_graded",
    "iter_submissions",
    "judge_settings",
    "load_calibration",
    "load_deck",
    "load_rubric",
    "save_rubric",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'examiner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:
    from .config import JudgeSettings, judge_settings
    from .errors import ExaminerError, InputError, Problem
    from .formats.decks import load_deck
    from .formats.labelled import GradedAnswer, iter_graded
    from .formats.submissions import iter_submissions
    from .models import (
        Card,
        Deck,
        Grade,
        KeyPoint,
        KeyPointResult,
        Misconception,
        MisconceptionResult,
        Rubric,
        RubricCard,
        Submission,
    )
    from .rubric import build_rubric, check_rubric, load_rubric, save_rubric
    from .scoring.calibration import Calibration, load_calibration
    from .scoring.grader import Grader
