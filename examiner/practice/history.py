"""Practice history: every attempt a student makes, one row each, in the store.

A row is written, in its own transaction, the moment the student settles the
rating, so a crash or Ctrl-C loses at most the answer being typed. The
scheduling state of a card is the state written with its latest attempt:
nothing is kept anywhere else, so history and schedule cannot drift apart.

An attempt rated before the judge's verdict came keeps its rating and
schedule; `regrade` then puts the judged grade (and score) in its row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import examiner_home
from ..models import Grade, Rubric
from ..store.database import Store
from ..store.identity import rubric_hash
from .schedule import CardState, RatingName, Schedule, rating_name, rating_number

__all__ = ["Attempt", "PracticeHistory", "card_states", "default_history_db", "rubric_key"]


def default_history_db() -> Path:
    """$EXAMINER_HOME/examiner.db: one file per user, all rubrics in it."""
    return examiner_home() / "examiner.db"


def rubric_key(rubric: Rubric, path: Path | None = None) -> str:
    """What names a rubric in the history: its title, else its file's name.

    Not its hash: a teacher fixing a typo in a key point must not wipe every
    student's schedule. Cards are matched by id, so edits that keep card ids
    keep their history.
    """
    name = rubric.title or (path.stem if path else "")
    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-") or "rubric"


@dataclass(frozen=True)
class Attempt:
    """One answer to one card in practice, with its rating and the schedule after it."""

    id: int
    card_id: str
    reviewed_at: datetime
    rating: RatingName
    suggested: RatingName | None
    score: float | None
    hints: int
    due_at: datetime
    state: dict[str, Any]
    answer: str
    grade: Grade | None


def card_states(attempts: Sequence[Attempt]) -> dict[str, CardState]:
    """Each card's state after `attempts` (oldest first): the one its latest attempt wrote."""
    states: dict[str, CardState] = {}
    for attempt in attempts:
        before = states.get(attempt.card_id)
        states[attempt.card_id] = CardState(
            attempt.card_id,
            attempt.state,
            (before.reviews if before else 0) + 1,
            attempt.reviewed_at,
        )
    return states


class PracticeHistory:
    """One student's practice of one rubric."""

    def __init__(self, store: Store, student: str, rubric: str) -> None:
        self.store = store
        self.student = student
        self.rubric = rubric

    @classmethod
    def open(cls, student: str, rubric: str, db: Path | None = None) -> PracticeHistory:
        path = db or default_history_db()
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(Store.open(path), student, rubric)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> PracticeHistory:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def attempts(self) -> list[Attempt]:
        """All attempts, oldest first."""
        rows = self.store.fetch(
            "SELECT * FROM practice WHERE student_id = ? AND rubric = ? ORDER BY reviewed_at, id",
            (self.student, self.rubric),
        )
        return [_attempt(row) for row in rows]

    def states(self) -> dict[str, CardState]:
        """Each practised card's current state."""
        return card_states(self.attempts())

    def record(
        self,
        grade: Grade,
        rating: RatingName,
        *,
        schedule: Schedule,
        rubric: Rubric,
        when: datetime | None = None,
        suggested: RatingName | None = None,
        hints: int = 0,
        duration_ms: int | None = None,
    ) -> Attempt:
        """Schedule the card by `rating` and store the attempt, in one transaction."""
        when = (when or datetime.now(UTC)).astimezone(UTC)
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT state FROM practice WHERE student_id = ? AND rubric = ? AND card_id = ? "
                "ORDER BY reviewed_at DESC, id DESC LIMIT 1",
                (self.student, self.rubric, grade.card_id),
            ).fetchone()
            previous = json.loads(row["state"]) if row else None
            state = schedule.review(previous, rating, when)
            cursor = conn.execute(
                "INSERT INTO practice (student_id, rubric_hash, card_id, reviewed_at, rating, "
                "score, due_at, state, rubric, answer, grade_json, suggested, hints, duration_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.student,
                    rubric_hash(rubric),
                    grade.card_id,
                    when.isoformat(),
                    rating_number(rating),
                    grade.score,
                    state["due"],
                    json.dumps(state),
                    self.rubric,
                    grade.answer,
                    grade.model_dump_json(),
                    rating_number(suggested) if suggested else None,
                    hints,
                    duration_ms,
                ),
            )
            attempt_id = cursor.lastrowid
        assert attempt_id is not None
        return Attempt(
            attempt_id,
            grade.card_id,
            when,
            rating,
            suggested,
            grade.score,
            hints,
            datetime.fromisoformat(state["due"]),
            state,
            grade.answer,
            grade,
        )

    def regrade(self, attempt_id: int, grade: Grade) -> bool:
        """Store `grade` as attempt `attempt_id`'s grade; whether this student's attempt was found.

        The rating, and so the schedule, stay what the student gave: the
        student rated what they knew, the judge only grades it better.
        """
        with self.store.transaction() as conn:
            cursor = conn.execute(
                "UPDATE practice SET score = ?, grade_json = ? "
                "WHERE id = ? AND student_id = ? AND rubric = ? AND card_id = ?",
                (
                    grade.score,
                    grade.model_dump_json(),
                    attempt_id,
                    self.student,
                    self.rubric,
                    grade.card_id,
                ),
            )
            return cursor.rowcount == 1


def _attempt(row: Any) -> Attempt:
    state = json.loads(row["state"] or "{}")
    return Attempt(
        id=row["id"],
        card_id=row["card_id"],
        reviewed_at=datetime.fromisoformat(row["reviewed_at"]),
        rating=rating_name(row["rating"]),
        suggested=rating_name(row["suggested"]) if row["suggested"] else None,
        score=row["score"],
        hints=row["hints"],
        due_at=datetime.fromisoformat(row["due_at"]),
        state=state,
        answer=row["answer"],
        grade=Grade.model_validate_json(row["grade_json"]) if row["grade_json"] else None,
    )
