"""The practice session: ask, read a typed answer, grade, show feedback, schedule.

The loop knows nothing of terminals: it talks to a `PracticeView`, which shows
what happens and reads what the student types. The CLI's view draws with rich
(`examiner.cli.practice_view`); a test or a benchmark can drive the same loop
through any object with the same methods.

Why it is built this way:

- The embedding model loads in a background thread started before the first
  question is shown: a student reading the question does not wait for it.
- An attempt is stored the moment its rating is settled. Ctrl-C at the rating
  prompt stores the suggested rating (the answer was given; losing it would
  lose the student's work); Ctrl-C while typing drops only the unfinished
  answer.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from ..models import Grade, RubricCard
from ..scoring.grader import Grader
from .history import Attempt, PracticeHistory
from .schedule import RATINGS, RatingName, Schedule, suggest_rating

__all__ = ["PracticeSession", "PracticeView", "SessionSummary", "humanize_delay", "rating_of"]

# What the student may type at the rating prompt, besides the full names.
_SHORT = {"a": "again", "h": "hard", "g": "good", "e": "easy", "1": "again", "2": "hard"}
_SHORT |= {"3": "good", "4": "easy"}


class _Skip(Exception):
    pass


class _Quit(Exception):
    pass


@dataclass
class SessionSummary:
    """What one session did."""

    asked: int = 0
    skipped: int = 0
    attempts: list[Attempt] = field(default_factory=list)
    interrupted: bool = False

    @property
    def ratings(self) -> Counter[str]:
        return Counter(a.rating for a in self.attempts)

    @property
    def mean_score(self) -> float | None:
        scores = [a.score for a in self.attempts if a.score is not None]
        return sum(scores) / len(scores) if scores else None


class PracticeView(Protocol):
    """What the loop shows and reads. `read_*` raise EOFError when input ends and
    KeyboardInterrupt on Ctrl-C, as `input` does."""

    def read_answer_line(self) -> str: ...
    def read_rating(self, suggested: RatingName) -> str: ...
    def waiting(self, what: str) -> AbstractContextManager[object]: ...
    def notice(self, text: str) -> None: ...
    def nothing_due(self) -> None: ...
    def question(self, card: RubricCard, number: int, total: int) -> None: ...
    def skipped(self) -> None: ...
    def end_line(self) -> None: ...
    def hint(self, text: str, number: int, total: int) -> None: ...
    def no_more_hints(self) -> None: ...
    def no_answer_yet(self) -> None: ...
    def feedback(self, card: RubricCard, grade: Grade) -> None: ...
    def unknown_rating(self) -> None: ...
    def scheduled(self, attempt: Attempt) -> None: ...
    def finished(self, summary: SessionSummary, saved_in: Path) -> None: ...


def humanize_delay(delay: timedelta) -> str:
    """ "in 10 minutes", "in 3 hours", "in 4 days": as a student thinks of it."""
    seconds = max(delay.total_seconds(), 0)
    if seconds < 3600:
        n, unit = max(round(seconds / 60), 1), "minute"
    elif seconds < 86400:
        n, unit = round(seconds / 3600), "hour"
    else:
        n, unit = round(seconds / 86400), "day"
    return f"in {n} {unit}{'s' if n != 1 else ''}"


def rating_of(typed: str) -> RatingName | None:
    """The rating a student typed ("g", "3", "good"), or None for anything else."""
    word = typed.strip().casefold()
    name = _SHORT.get(word, word)
    return name if name in RATINGS else None


class PracticeSession:
    def __init__(
        self,
        grader: Grader,
        history: PracticeHistory,
        queue: list[RubricCard],
        *,
        view: PracticeView,
        schedule: Schedule | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        notices: list[str] | None = None,
    ) -> None:
        self.grader = grader
        self.history = history
        self.queue = queue
        self.view = view
        self.schedule = schedule or Schedule()
        self.clock = clock
        # The grader's notices (e.g. "no model: lexical scorer") arrive from the
        # loader thread; they are shown between questions, not over the typing.
        self.notices: list[str] = notices if notices is not None else []
        self._loader: threading.Thread | None = None
        self._load_error: BaseException | None = None

    # -- the model, loaded behind the first question ------------------------------------

    def start_loading(self) -> None:
        def load() -> None:
            try:
                self.grader.warm_up()
            except BaseException as exc:  # re-raised in the main thread, on first use
                self._load_error = exc

        self._loader = threading.Thread(target=load, name="examiner-model-loader", daemon=True)
        self._loader.start()

    def _wait_for_model(self) -> None:
        if self._loader is not None:
            if self._loader.is_alive():
                with self.view.waiting("loading the embedding model…"):
                    self._loader.join()
            self._loader = None
        for notice in self.notices:
            self.view.notice(notice)
        self.notices.clear()
        if self._load_error is not None:
            error, self._load_error = self._load_error, None
            raise error

    # -- the loop -----------------------------------------------------------------------

    def run(self) -> SessionSummary:
        summary = SessionSummary()
        if not self.queue:
            self.view.nothing_due()
            return summary
        self.start_loading()
        pending: tuple[Grade, RatingName, int, int] | None = None
        try:
            for number, card in enumerate(self.queue, 1):
                self.view.question(card, number, len(self.queue))
                summary.asked += 1
                try:
                    answer, hints = self._read_answer(card)
                except _Skip:
                    summary.skipped += 1
                    self.view.skipped()
                    continue
                started = time.perf_counter()
                grade = self._grade(card, answer)
                elapsed = round((time.perf_counter() - started) * 1000)
                suggested = suggest_rating(grade.score, hints)
                pending = (grade, suggested, hints, elapsed)
                self.view.feedback(card, grade)
                rating = self._read_rating(suggested)
                attempt = self._record(grade, rating, suggested, hints, elapsed)
                pending = None  # stored: a Ctrl-C from here on must not store it again
                summary.attempts.append(attempt)
                self.view.scheduled(attempt)
        except _Quit:
            pass
        except KeyboardInterrupt:
            summary.interrupted = True
            self.view.end_line()  # the terminal echoed only ^C
            if pending is not None:
                grade, suggested, hints, elapsed = pending
                attempt = self._record(grade, suggested, suggested, hints, elapsed)
                summary.attempts.append(attempt)
                self.view.scheduled(attempt)
        self.view.finished(summary, Path(self.history.store.path))
        return summary

    def _read_answer(self, card: RubricCard) -> tuple[str, int]:
        """The typed answer and how many hints were shown; raises _Skip or _Quit."""
        lines: list[str] = []
        hints = 0
        empty_once = False
        while True:
            try:
                line = self.view.read_answer_line()
            except EOFError:
                self.view.end_line()  # Ctrl-D echoes no newline
                if not lines:
                    raise _Quit from None  # input closed before an answer: end the session
                return "\n".join(lines), hints
            word = line.strip().casefold()
            if not lines and word in ("skip", "quit", "exit"):
                raise _Skip if word == "skip" else _Quit
            if word == "?":
                hints = self._hint(card, hints)
                continue
            if word:
                lines.append(line)
                empty_once = False
                continue
            if lines:
                return "\n".join(lines), hints
            if empty_once:
                return "", hints  # Enter twice: the student gives up and sees the answer
            empty_once = True
            self.view.no_answer_yet()

    def _hint(self, card: RubricCard, shown: int) -> int:
        """Show the next hint, if any is left; returns how many have been shown."""
        if shown >= len(card.key_points):
            self.view.no_more_hints()
            return shown
        # The heaviest key points first: the most useful nudge.
        points = sorted(card.key_points, key=lambda p: -p.weight)
        self.view.hint(points[shown].text, shown + 1, len(points))
        return shown + 1

    def _grade(self, card: RubricCard, answer: str) -> Grade:
        self._wait_for_model()
        if self.grader.judge_settings is not None:
            with self.view.waiting("asking the judge…"):
                return self.grader.grade(card.id, answer, self.history.student)
        return self.grader.grade(card.id, answer, self.history.student)

    def _read_rating(self, suggested: RatingName) -> RatingName:
        while True:
            try:
                typed = self.view.read_rating(suggested)
            except EOFError:
                self.view.end_line()
                return suggested
            if not typed.strip():
                return suggested
            rating = rating_of(typed)
            if rating is not None:
                return rating
            self.view.unknown_rating()

    def _record(
        self, grade: Grade, rating: RatingName, suggested: RatingName, hints: int, elapsed: int
    ) -> Attempt:
        return self.history.record(
            grade,
            rating,
            schedule=self.schedule,
            rubric=self.grader.rubric,
            when=self.clock(),
            suggested=suggested,
            hints=hints,
            duration_ms=elapsed,
        )
