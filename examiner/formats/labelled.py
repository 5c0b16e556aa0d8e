"""Teacher-graded answers: a submissions file plus the teacher's score or label.

`score` is read on the 0..1 scale, or on `score_max`'s scale when that column
is there (Mohler's 0–5); a `label` alone (`correct` / `partial` /
`incorrect`) works too. A bad row is a Problem, and reading goes on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import Problem, SubmissionsError
from ..models import Submission
from .submissions import FieldValue, Record, open_records, submission_from_record

__all__ = ["LABEL_CREDIT", "GradedAnswer", "iter_graded"]

LABEL_CREDIT = {"correct": 1.0, "partial": 0.5, "incorrect": 0.0}


@dataclass(frozen=True)
class GradedAnswer:
    submission: Submission
    human: float  # the teacher's credit on 0..1
    label: str | None  # the teacher's label, where the file gives one
    scale: float  # the file's own maximum score (1 for 0..1)
    category: str | None = None  # the kind of answer, where the file says (`category`)


def iter_graded(path: str | Path) -> Iterator[GradedAnswer | Problem]:
    """Graded answers of a CSV or JSONL file, bad rows as Problems."""
    shown = str(path)
    columns, records = open_records(path)
    if columns is not None:
        names = {c.strip().lower() for c in columns}
        if "score" not in names and "label" not in names:
            raise SubmissionsError.at(
                shown, 1, "no score or label column: graded answers need the teacher's grade"
            )
    return _graded(shown, records)


def _graded(shown: str, records: Iterator[Record | Problem]) -> Iterator[GradedAnswer | Problem]:
    for item in records:
        if isinstance(item, Problem):
            yield item
            continue
        subs = submission_from_record(shown, item)
        fields = {k.strip().lower(): v for k, v in item.fields.items()}
        grade = _teacher_grade(shown, item.row, fields)
        problems = [p for p in [*subs, grade] if isinstance(p, Problem)]
        if problems:
            yield from problems
            continue
        sub = subs[0]
        assert isinstance(sub, Submission) and isinstance(grade, tuple)
        value = fields.get("category")
        category = None if value is None else str(value).strip() or None
        yield GradedAnswer(sub, *grade, category=category)


def _number(value: FieldValue) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("is true/false, not a number")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _teacher_grade(
    shown: str, row: int, fields: dict[str, FieldValue]
) -> tuple[float, str | None, float] | Problem:
    """The teacher's credit on 0..1, label and scale, from the row's lower-cased fields."""
    try:
        score = _number(fields.get("score"))
    except ValueError as exc:
        return Problem(shown, row, f"score {exc}", "score")
    try:
        scale = _number(fields.get("score_max"))
    except ValueError as exc:
        return Problem(shown, row, f"score_max {exc}", "score_max")
    raw_label = fields.get("label")
    label = str(raw_label).strip().lower() if raw_label not in (None, "") else None
    if label is not None and label not in LABEL_CREDIT:
        return Problem(shown, row, f"label {label!r} is not correct, partial or incorrect", "label")
    if scale is not None and scale <= 0:
        return Problem(shown, row, f"score_max {scale:g} must be above 0", "score_max")
    if score is None:
        if label is None:
            return Problem(shown, row, "no score and no label", "score")
        return LABEL_CREDIT[label], label, 1.0
    top = scale if scale is not None else 1.0
    if not 0 <= score <= top:
        hint = "" if scale is not None else " (give the scale in a score_max column)"
        return Problem(shown, row, f"score {score:g} is outside 0..{top:g}{hint}", "score")
    return score / top, label, top
