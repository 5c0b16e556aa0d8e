"""The SQLite store: runs, grades, human reviews and practice history.

One file (default `examiner.db`) holds everything a class-scale grading run
produces, so that a run can be interrupted and resumed, re-run without
re-grading, reviewed by a teacher and exported at any time.

- `database`: `Store`, the connection and its reads and writes;
  `connection` opens a file, `migrations` grows its schema (append-only).
- `identity`: the content hashes that say two rubrics, answers or files are
  the same; `records`: the values the store hands back.
- `reviews`: which grades need a teacher, overriding one, the teacher winning.
- `queries`: the current grade of every answer, and live counts per run.

Grading a whole class into it, resumably, is `examiner.batch`.
"""

from __future__ import annotations

from ..errors import StoreError
from .database import DEFAULT_DB, Store
from .identity import AnswerKey, answer_hash, canonical_hash, file_hash, rubric_hash
from .migrations import MIGRATIONS, Migration
from .queries import latest_grades, latest_records
from .records import Review, ReviewAction, RunRecord, RunStats, RunStatus, StoredGrade
from .reviews import (
    REVIEW_FLAGS,
    apply_review,
    default_author,
    find_answer,
    is_review_flag,
    override_grade,
    reviewed_examples,
)

__all__ = [
    "DEFAULT_DB",
    "MIGRATIONS",
    "REVIEW_FLAGS",
    "AnswerKey",
    "Migration",
    "Review",
    "ReviewAction",
    "RunRecord",
    "RunStats",
    "RunStatus",
    "Store",
    "StoreError",
    "StoredGrade",
    "answer_hash",
    "apply_review",
    "canonical_hash",
    "default_author",
    "file_hash",
    "find_answer",
    "is_review_flag",
    "latest_grades",
    "latest_records",
    "override_grade",
    "reviewed_examples",
    "rubric_hash",
]
