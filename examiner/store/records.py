"""What the store hands back: runs, their counts, reviews and stored grades.

Plain values decoded from rows (JSON columns parsed), so nothing outside the
store sees `sqlite3.Row`. The row converters sit next to the query shape they
decode.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ..models import Grade

__all__ = [
    "LATEST_SELECT",
    "Review",
    "ReviewAction",
    "RunRecord",
    "RunStats",
    "RunStatus",
    "StoredGrade",
    "now_iso",
    "run_from_row",
    "stored_from_row",
]

RunStatus = Literal["running", "finished", "interrupted"]
ReviewAction = Literal["accept", "override"]


def now_iso() -> str:
    """The store's timestamps: UTC, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunRecord:
    """A row of `runs`, JSON columns decoded."""

    id: int
    started_at: str
    finished_at: str | None
    status: RunStatus
    rubric_path: str
    rubric_title: str
    rubric_hash: str
    calibration: dict[str, Any]
    models: dict[str, Any]
    settings: dict[str, Any]
    config_hash: str
    submissions_path: str
    submissions_hash: str
    totals: dict[str, Any]
    tokens_in: int
    tokens_out: int
    pid: int | None
    host: str | None

    def owner_alive(self) -> bool:
        """Whether the process that is writing this run is still running on this host."""
        if self.status != "running" or self.pid is None or self.host != socket.gethostname():
            return False
        if self.pid == os.getpid():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, owned by someone else
            return True
        return True

    @property
    def shown_status(self) -> str:
        """The status a person should see: a 'running' run whose process died has stopped."""
        if self.status == "running" and self.host == socket.gethostname():
            return "running" if self.owner_alive() else "stopped"
        return self.status


@dataclass
class RunStats:
    """What a run holds right now, counted from its grades (correct across resumes)."""

    answers: int = 0
    labels: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    flagged: int = 0
    scorers: dict[str, int] = field(default_factory=dict)
    reused: int = 0
    problems: int = 0
    tokens_in: int = 0
    tokens_out: int = 0

    def as_totals(self) -> dict[str, Any]:
        return {
            "answers": self.answers,
            "labels": self.labels,
            "flags": self.flags,
            "flagged": self.flagged,
            "scorers": self.scorers,
            "reused": self.reused,
            "problems": self.problems,
        }


@dataclass(frozen=True)
class Review:
    """A teacher's decision on one answer."""

    id: int
    action: ReviewAction
    score: float | None
    previous_score: float | None
    note: str
    author: str
    created_at: str


@dataclass(frozen=True)
class StoredGrade:
    """A grade as stored, with where it came from and its latest review."""

    grade_id: int
    run_id: int
    submission_id: int
    answer_hash: str
    grade: Grade
    review: Review | None

    @property
    def flags(self) -> list[str]:
        return [str(f) for f in self.grade.flags]


# --- row decoding --------------------------------------------------------------------------

# Each grade with the latest review of its answer (reviews follow the answer,
# not the grade row, so they carry over to re-runs). `stored_from_row` decodes it.
LATEST_SELECT = """
    SELECT g.id, g.run_id, g.submission_id, g.answer_id, g.answer_hash, g.grade_json,
           rv.id AS review_id, rv.action, rv.score AS review_score, rv.previous_score,
           rv.note, rv.author, rv.created_at AS reviewed_at
    FROM grades g
    LEFT JOIN reviews rv ON rv.id = (
        SELECT max(id) FROM reviews WHERE submission_id = g.submission_id)
"""


def run_from_row(row: sqlite3.Row) -> RunRecord:
    """A row of `runs`."""
    return RunRecord(
        id=row["id"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        status=row["status"],
        rubric_path=row["rubric_path"],
        rubric_title=row["rubric_title"],
        rubric_hash=row["rubric_hash"],
        calibration=json.loads(row["calibration"]),
        models=json.loads(row["models"]),
        settings=json.loads(row["settings"]),
        config_hash=row["config_hash"],
        submissions_path=row["submissions_path"],
        submissions_hash=row["submissions_hash"],
        totals=json.loads(row["totals"]),
        tokens_in=row["tokens_in"],
        tokens_out=row["tokens_out"],
        pid=row["pid"],
        host=row["host"],
    )


def stored_from_row(row: sqlite3.Row) -> StoredGrade:
    """A row of `LATEST_SELECT`."""
    review = None
    if row["review_id"] is not None:
        review = Review(
            id=row["review_id"],
            action=row["action"],
            score=row["review_score"],
            previous_score=row["previous_score"],
            note=row["note"],
            author=row["author"],
            created_at=row["reviewed_at"],
        )
    return StoredGrade(
        grade_id=row["id"],
        run_id=row["run_id"],
        submission_id=row["submission_id"],
        answer_hash=row["answer_hash"],
        grade=Grade.model_validate_json(row["grade_json"]),
        review=review,
    )
