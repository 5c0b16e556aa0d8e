"""How well grades agree with teachers, and fitting the calibration that makes them agree.

- `agreement`: grade teacher-graded answers and compare (r, MAE, QWK, by card).
- `fitting`: fit the score model (and a similarity head) and cross-validate it by card.
- `metrics`: the statistics themselves, in plain numpy.
"""

from __future__ import annotations

from . import metrics
from .agreement import Agreement, Scored, agreement, assess_graded, grade_graded
from .fitting import (
    HEAD_MIN_ANSWERS,
    cross_validate,
    fit_calibration,
    fit_model,
    group_folds,
    head_tried,
    rescore,
)

__all__ = [
    "HEAD_MIN_ANSWERS",
    "Agreement",
    "Scored",
    "agreement",
    "assess_graded",
    "cross_validate",
    "fit_calibration",
    "fit_model",
    "grade_graded",
    "group_folds",
    "head_tried",
    "metrics",
    "rescore",
]
