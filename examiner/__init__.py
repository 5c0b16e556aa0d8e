"""examiner: grade free-text answers to flashcards against a rubric of key points.

from examiner import load_rubric, Grader
grader = Grader(load_rubric("rubrics/cnn-lesson3.yaml"))
grade = grader.grade("same-conv", "The output has the same size as the input.")
"""

from __future__ import annotations

from .calibration import Calibration, load_calibration
from .config import JudgeSettings, judge_settings
from .decks import load_deck
from .errors import ExaminerError, InputError, Problem
from .graded import GradedAnswer, iter_graded
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
from .pipeline import Grader
from .rubric import build_rubric, check_rubric, load_rubric, save_rubric
from .submissions import iter_submissions

__version__ = "0.1.0"

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
