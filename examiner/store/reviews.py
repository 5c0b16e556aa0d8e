"""Teachers' reviews: which grades need one, recording an override, the teacher winning,
and what the reviews teach the next run (`reviewed_examples`).

A review is stored against the answer, not the grade row (see `Store`), so
`apply_review` is how every export, report and table shows a grade: as the
teacher left it.
"""

from __future__ import annotations

import getpass
import math
import os
import sqlite3
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import StoreError
from ..models import Flag, Grade, label_for
from .records import Review, ReviewAction, StoredGrade, now_iso

if TYPE_CHECKING:
    from ..models import Rubric
    from ..scoring.examples import GradedExample
    from .database import Store

__all__ = [
    "REVIEW_FLAGS",
    "apply_review",
    "default_author",
    "find_answer",
    "insert_review",
    "is_review_flag",
    "override_grade",
    "parse_score",
    "reviewed_examples",
]

# Flags that put a grade on the teacher's review list. Any flag whose name
# contains "disagree" (the judge stage's stage-disagreement flags) does too.
REVIEW_FLAGS = frozenset(
    {
        Flag.NEEDS_REVIEW.value,
        Flag.POSSIBLE_INJECTION.value,
        Flag.JUDGE_FAILED.value,
        Flag.POSSIBLE_CONTRADICTION.value,
    }
)

# Cards named in "their cards: …" when an answer is not found.
_CARDS_SHOWN = 10


def is_review_flag(flag: str) -> bool:
    return flag in REVIEW_FLAGS or "disagree" in flag


def default_author() -> str:
    """Who is reviewing: $USER, else the login name, else 'unknown'."""
    name = os.environ.get("USER") or os.environ.get("USERNAME")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): still record something
        return "unknown"


def apply_review(grade: Grade, review: Review | None) -> Grade:
    """The grade as it stands after a teacher's review: the teacher wins.

    An override replaces score, points and label and says who changed it and
    why (in `notes`, which JSONL exports carry). Either kind of review settles
    the question, so `needs_review` is dropped; the other flags describe the
    answer and stay.
    """
    if review is None:
        return grade
    flags = [f for f in grade.flags if f != Flag.NEEDS_REVIEW]
    why = f": {review.note}" if review.note else ""
    if review.action == "accept" or review.score is None:
        note = f"accepted by {review.author}{why}"
        return grade.model_copy(update={"flags": flags, "notes": [*grade.notes, note]})
    score = review.score
    note = f"overridden by {review.author}{why} (was {grade.score:.2f})"
    return grade.model_copy(
        update={
            "score": score,
            "points": round(score * grade.max_points, 4),
            "label": label_for(score),
            "confidence": 1.0,
            "flags": flags,
            "notes": [*grade.notes, note],
        }
    )


def insert_review(
    conn: sqlite3.Connection,
    stored: StoredGrade,
    action: ReviewAction,
    *,
    score: float | None,
    note: str,
    author: str | None,
) -> Review:
    """Write one review row, inside the caller's transaction (see `Store.add_review`)."""
    grade = stored.grade
    kept_score = score if action == "override" else None
    who = author or default_author()
    created = now_iso()
    cursor = conn.execute(
        """INSERT INTO reviews (submission_id, grade_id, student_id, card_id, answer_id,
               answer_hash, action, score, previous_score, note, author, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            stored.submission_id,
            stored.grade_id,
            grade.student_id,
            grade.card_id,
            grade.answer_id or "",
            stored.answer_hash,
            action,
            kept_score,
            grade.score,
            note,
            who,
            created,
        ),
    )
    assert cursor.lastrowid is not None
    return Review(cursor.lastrowid, action, kept_score, grade.score, note, who, created)


def find_answer(
    store: Store,
    student_id: str,
    card_id: str,
    *,
    answer_id: str | None = None,
    run_id: int | None = None,
) -> StoredGrade:
    """The one stored grade of a student's answer to a card (card id as stored).

    Raises StoreError, saying what the store does hold, when there is no such
    answer, or when the student answered the card more than once and
    `answer_id` does not say which.
    """
    if run_id is not None:
        store.run(run_id)  # a clear error for an unknown id
    found = store.find_grades(student_id, card_id, answer_id=answer_id, run_id=run_id)
    if not found:
        raise _not_found(store, student_id, card_id, answer_id)
    if len(found) > 1:
        ids = ", ".join(repr(s.grade.answer_id or "") for s in found)
        raise StoreError(
            f"{student_id!r} answered {card_id!r} more than once (answer ids {ids}): "
            "say which answer",
            setting="answer_id",
        )
    return found[0]


def _not_found(store: Store, student_id: str, card_id: str, answer_id: str | None) -> StoreError:
    cards = store.cards_of(student_id)
    if not cards:
        return StoreError(f"{store.path}: no grades for student {student_id!r}")
    shown = ", ".join(cards[:_CARDS_SHOWN]) + (", …" if len(cards) > _CARDS_SHOWN else "")
    which = f" (answer id {answer_id!r})" if answer_id else ""
    return StoreError(
        f"{store.path}: no grade for {student_id!r} on card {card_id!r}{which}; "
        f"their cards: {shown}"
    )


def override_grade(
    store: Store,
    student_id: str,
    card_id: str,
    score: float,
    note: str,
    *,
    author: str | None = None,
    answer_id: str | None = None,
    run_id: int | None = None,
) -> tuple[StoredGrade, Review]:
    """Override one answer's grade with a teacher's score (0..1) and reason.

    The answer is found as `find_answer` finds it; returns it, as it was, with
    the review recorded. The override wins in every later export and report.
    """
    stored = find_answer(store, student_id, card_id, answer_id=answer_id, run_id=run_id)
    return stored, store.add_review(stored, "override", score=score, note=note, author=author)


def parse_score(text: str) -> float:
    """A teacher's score as 0..1: `0.6`, `3/5` or `60%`; ValueError with the reason."""
    value = text.strip()
    try:
        if value.endswith("%"):
            score = float(value[:-1]) / 100
        elif "/" in value:
            got, total = value.split("/", 1)
            if float(total) <= 0:
                raise ValueError
            score = float(got) / float(total)
        else:
            score = float(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a score: write 0.6, 3/5 or 60%") from None
    if math.isnan(score) or not 0 <= score <= 1:
        raise ValueError(f"{text!r} is outside 0..1: write 0.6, 3/5 or 60%")
    return score


# The latest review of each answer, with the answer's text and the rubric its grade was made on.
_REVIEWED = """
    SELECT r.card_id, s.answer, COALESCE(r.score, r.previous_score) AS score,
           u.rubric_hash, u.rubric_path
    FROM reviews r
    JOIN submissions s ON s.id = r.submission_id
    JOIN grades g ON g.id = r.grade_id
    JOIN runs u ON u.id = g.run_id
    WHERE r.id IN (SELECT MAX(id) FROM reviews GROUP BY submission_id)
    ORDER BY r.id
"""


def reviewed_examples(
    store: Store, rubric: Rubric, rubric_path: str | PathLike[str] | None = None
) -> list[GradedExample]:
    """The teachers' reviews of earlier grades on this rubric, as graded examples.

    An override is the teacher's grade; an accept confirms the grade it was
    given on. Only each answer's latest review counts, and only reviews of
    grades made on this rubric (the same content, or the same file, edited
    since, for the cards it still has), so a card of another deck that shares
    an id teaches nothing here.
    """
    from ..scoring.examples import GradedExample
    from .identity import rubric_hash

    ours = rubric_hash(rubric)
    path = None if rubric_path is None else Path(rubric_path).resolve()
    cards = {card.id for card in rubric.cards}
    found: list[GradedExample] = []
    for row in store.fetch(_REVIEWED):
        same = row["rubric_hash"] == ours or (
            path is not None and Path(row["rubric_path"]).resolve() == path
        )
        if same and row["card_id"] in cards and row["score"] is not None:
            found.append(GradedExample(row["card_id"], row["answer"], float(row["score"])))
    return found
