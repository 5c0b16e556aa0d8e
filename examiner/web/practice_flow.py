"""Practice in a browser, between two requests: the answered card waiting for its rating.

A student's answer is graded on one request and rated on the next. The
grade travels in the rating form, signed with the server's secret, so the
server keeps no session and a restart loses nothing but unrated answers
(as Ctrl-C while typing does in the terminal). Each signed attempt carries a
nonce spent when it is recorded: a double click records it once.

The judge's verdict is not waited for: the answer page shows the embedding
grade and polls for the verdict (`Verdicts`, kept in memory by a random id
the signed attempt carries). A rating given before it comes is stored at
once; the verdict then replaces the stored grade (never the rating). A
restart drops the verdicts still out: those attempts keep the embedding grade.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..models import Grade, RubricCard
from ..practice import PracticeHistory, RatingName
from ..practice.schedule import Schedule
from .decks import Deck

__all__ = [
    "MAX_NAME",
    "JudgeVerdict",
    "Pending",
    "SpentNonces",
    "Verdicts",
    "check_student",
    "hints_for",
    "open_pending",
    "record",
    "regrade",
    "sign_pending",
]

_log = logging.getLogger(__name__)

MAX_NAME = 80
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_student(name: str) -> str | None:
    """Why a student name cannot be used, or None when it can."""
    if not name:
        return "Type your name: your progress is kept under it."
    if len(name) > MAX_NAME:
        return f"A name is at most {MAX_NAME} characters."
    if _CONTROL.search(name):
        return "A name cannot contain control characters."
    return None


def hints_for(card: RubricCard, shown: int) -> list[str]:
    """The first `shown` hints: key points, the heaviest first (as the terminal gives them)."""
    points = sorted(card.key_points, key=lambda p: -p.weight)
    return [p.text for p in points[: max(0, shown)]]


@dataclass(frozen=True)
class Pending:
    """An answered, graded card waiting for its rating."""

    deck: str
    student: str
    grade: Grade
    suggested: RatingName
    hints: int
    elapsed_ms: int
    nonce: str
    verdict: str = ""  # the judge's verdict still to come (a `Verdicts` id), or ""


def sign_pending(secret: bytes, pending: Pending) -> str:
    payload = {
        "deck": pending.deck,
        "student": pending.student,
        "grade": pending.grade.model_dump(mode="json"),
        "suggested": pending.suggested,
        "hints": pending.hints,
        "elapsed_ms": pending.elapsed_ms,
        "nonce": pending.nonce,
        "verdict": pending.verdict,
    }
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
    return f"{body}.{_mac(secret, body)}"


def open_pending(secret: bytes, token: str) -> Pending | None:
    """The signed attempt, or None when the token was not made by this server."""
    body, _, mac = token.partition(".")
    if not body or not hmac.compare_digest(_mac(secret, body), mac):
        return None
    data = json.loads(base64.urlsafe_b64decode(body.encode()))
    return Pending(
        deck=data["deck"],
        student=data["student"],
        grade=Grade.model_validate(data["grade"]),
        suggested=data["suggested"],
        hints=int(data["hints"]),
        elapsed_ms=int(data["elapsed_ms"]),
        nonce=data["nonce"],
        verdict=data.get("verdict", ""),
    )


def new_nonce() -> str:
    return secrets.token_urlsafe(12)


def _mac(secret: bytes, body: str) -> str:
    return hmac.new(secret, f"attempt:{body}".encode(), hashlib.sha256).hexdigest()


class SpentNonces:
    """Nonces of attempts already recorded (the latest `keep`), so none is recorded twice."""

    def __init__(self, keep: int = 10_000) -> None:
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._keep = keep
        # Held while recording: the check and the write are one step.
        self.lock = threading.Lock()

    def get(self, nonce: str) -> int | None:
        return self._seen.get(nonce)

    def add(self, nonce: str, attempt_id: int) -> None:
        self._seen[nonce] = attempt_id
        while len(self._seen) > self._keep:
            self._seen.popitem(last=False)


def record(
    deck: Deck, history_db: Path | None, pending: Pending, rating: RatingName, spent: SpentNonces
) -> int:
    """Store the rated attempt in the practice history, once per nonce; returns its id.

    Each call opens the history on a connection of its own and writes in one
    transaction, so two students rating at once both land.
    """
    with spent.lock:
        earlier = spent.get(pending.nonce)
        if earlier is not None:
            return earlier
        with PracticeHistory.open(pending.student, deck.history_key, history_db) as history:
            attempt = history.record(
                pending.grade,
                rating,
                schedule=Schedule(),
                rubric=deck.rubric,
                when=datetime.now(UTC),
                suggested=pending.suggested,
                hints=pending.hints,
                duration_ms=pending.elapsed_ms,
            )
        spent.add(pending.nonce, attempt.id)
        return attempt.id


def regrade(
    deck: Deck, history_db: Path | None, student: str, attempt_id: int, grade: Grade
) -> None:
    """Store the judge's grade in an attempt rated before it came (the rating stays)."""
    with PracticeHistory.open(student, deck.history_key, history_db) as history:
        history.regrade(attempt_id, grade)


Regrade = Callable[[int, Grade], None]


@dataclass
class JudgeVerdict:
    """The judge's grade of one answer, on its way, and the attempt it is to be stored in."""

    future: Future[Grade]
    deck: str
    student: str
    hints: int
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _into: tuple[int, Regrade] | None = None
    _stored: bool = False

    def grade(self) -> Grade | None:
        """The judged grade once it is in; None before, or if it was dropped (server closing)."""
        if not self.future.done() or self.future.cancelled():
            return None
        return self.future.result()

    def store_into(self, attempt_id: int, regrade: Regrade) -> None:
        """Store the verdict in attempt `attempt_id`: now if it is in, else when it comes."""
        with self._lock:
            if self._into is None:
                self._into = (attempt_id, regrade)
        self._store()

    def _store(self, _: object = None) -> None:
        # Called by the rating and by the future when done, whichever is last: once.
        with self._lock:
            grade = self.grade()
            if self._stored or self._into is None or grade is None:
                return
            self._stored = True
            attempt_id, store = self._into
        try:
            store(attempt_id, grade)
        except Exception:  # the attempt keeps its embedding grade; the rating is safe
            _log.exception("could not store the judge's verdict in attempt %s", attempt_id)


class Verdicts:
    """The judge's verdicts still polled for, by a random id (the latest `keep`)."""

    def __init__(self, keep: int = 1000) -> None:
        self._by_id: OrderedDict[str, JudgeVerdict] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def add(self, verdict: JudgeVerdict) -> str:
        # Unguessable: the id is all a poll needs to read the verdict.
        verdict_id = secrets.token_urlsafe(16)
        with self._lock:
            self._by_id[verdict_id] = verdict
            while len(self._by_id) > self._keep:
                self._by_id.popitem(
                    last=False
                )  # its attempt is still regraded: the future holds it
        verdict.future.add_done_callback(verdict._store)
        return verdict_id

    def get(self, verdict_id: str) -> JudgeVerdict | None:
        with self._lock:
            return self._by_id.get(verdict_id)
