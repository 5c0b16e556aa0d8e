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
- Practice never waits for the judge (a local model takes seconds): the
  embedding feedback shows at once, `j` at the rating prompt waits for the
  verdict, and a rating given before it stays. A verdict that comes after
  the rating replaces the stored grade (not the rating), checked before each
  card and, for a few seconds, at the end.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from ..models import Grade, RubricCard
from ..scoring.grader import Grader, StagedGrade
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


# At the end of a session, how long the judge's last verdicts are waited for.
JUDGE_WAIT_AT_END = 5.0


@dataclass
class _Answered:
    """A graded answer waiting for its rating; `judged`: the judge's grade still to come."""

    card: RubricCard
    grade: Grade
    suggested: RatingName
    hints: int
    elapsed: int
    judged: Future[Grade] | None = None


@dataclass(frozen=True)
class _Awaited:
    """A stored attempt whose judge's verdict is still to come."""

    attempt: Attempt
    judged: Future[Grade]


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
    def judge_pending(self) -> None: ...
    def judge_arrived(self, grade: Grade, which: str) -> None: ...
    def judge_late(self, cards: int) -> None: ...
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
        judge_wait: float = JUDGE_WAIT_AT_END,
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
        self.judge_wait = judge_wait
        self._awaited: list[_Awaited] = []

    # -- the model, loaded behind the first question ------------------------------------

    def start_loading(self) -> None:
        def load() -> None:
            try:
                self.grader.warm_up()
                # The judge's client too (importing its SDK takes a moment), if there is one.
                _ = self.grader.judge
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
        answered: _Answered | None = None
        try:
            for number, card in enumerate(self.queue, 1):
                self._take_verdicts(summary)
                self.view.question(card, number, len(self.queue))
                summary.asked += 1
                try:
                    answer, hints = self._read_answer(card)
                except _Skip:
                    summary.skipped += 1
                    self.view.skipped()
                    continue
                started = time.perf_counter()
                staged = self._grade(card, answer)
                elapsed = round((time.perf_counter() - started) * 1000)
                first = staged.first
                answered = _Answered(
                    card, first, suggest_rating(first.score, hints), hints, elapsed, staged.judged
                )
                if answered.judged is not None and answered.judged.done():
                    self._judged(answered)  # already in (a cached verdict): shown at once
                self.view.feedback(card, answered.grade)
                if answered.judged is not None:
                    self.view.judge_pending()
                rating = self._read_rating(answered)
                attempt = self._record(answered, rating)
                answered = None  # stored: a Ctrl-C from here on must not store it again
                summary.attempts.append(attempt)
                self.view.scheduled(attempt)
        except _Quit:
            pass
        except KeyboardInterrupt:
            summary.interrupted = True
            self.view.end_line()  # the terminal echoed only ^C
            if answered is not None:
                attempt = self._record(answered, answered.suggested)
                summary.attempts.append(attempt)
                self.view.scheduled(attempt)
        self._take_verdicts(summary, wait_s=self.judge_wait)
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

    def _grade(self, card: RubricCard, answer: str) -> StagedGrade:
        self._wait_for_model()
        return self.grader.grade_staged(card.id, answer, self.history.student)

    def _read_rating(self, answered: _Answered) -> RatingName:
        while True:
            try:
                typed = self.view.read_rating(answered.suggested)
            except EOFError:
                self.view.end_line()
                return answered.suggested
            if not typed.strip():
                return answered.suggested
            if typed.strip().casefold() == "j" and answered.judged is not None:
                with self.view.waiting("waiting for the judge's verdict…"):
                    _wait_for([answered.judged], None)
                self._judged(answered)
                self.view.feedback(answered.card, answered.grade)
                continue
            rating = rating_of(typed)
            if rating is not None:
                return rating
            self.view.unknown_rating()

    def _judged(self, answered: _Answered) -> None:
        """Take the judge's grade, in: it is the one shown, rated and stored."""
        assert answered.judged is not None
        grade = _verdict(answered.judged)
        answered.judged = None
        if grade is not None:
            answered.grade = grade
            answered.suggested = suggest_rating(grade.score, answered.hints)

    def _take_verdicts(self, summary: SessionSummary, wait_s: float = 0.0) -> None:
        """Store the verdicts that came in after their ratings; say so, one line each.

        `wait_s` (the session's end): wait that long for those still to come,
        then leave them (their attempts keep the embedding grade).
        """
        if not self._awaited:
            return
        if wait_s > 0 and not all(a.judged.done() for a in self._awaited):
            try:
                with self.view.waiting("waiting for the judge's verdict…"):
                    _wait_for([a.judged for a in self._awaited], wait_s)
            except KeyboardInterrupt:  # the student is leaving: do not hold them
                self.view.end_line()
        latest = summary.attempts[-1].id if summary.attempts else None
        for awaited in [a for a in self._awaited if a.judged.done()]:
            self._awaited.remove(awaited)
            grade = _verdict(awaited.judged)
            attempt = awaited.attempt
            if grade is None or not self.history.regrade(attempt.id, grade):
                continue
            updated = replace(attempt, score=grade.score, grade=grade)
            summary.attempts = [updated if a.id == attempt.id else a for a in summary.attempts]
            which = "the last card" if attempt.id == latest else f"card {attempt.card_id}"
            self.view.judge_arrived(grade, which)
        if wait_s > 0 and self._awaited:
            self.view.judge_late(len(self._awaited))
            self._awaited.clear()

    def _record(self, answered: _Answered, rating: RatingName) -> Attempt:
        attempt = self.history.record(
            answered.grade,
            rating,
            schedule=self.schedule,
            rubric=self.grader.rubric,
            when=self.clock(),
            suggested=answered.suggested,
            hints=answered.hints,
            duration_ms=answered.elapsed,
        )
        if answered.judged is not None:
            self._awaited.append(_Awaited(attempt, answered.judged))
        return attempt


def _wait_for(futures: list[Future[Grade]], timeout: float | None) -> None:
    """Wait until each is done or `timeout` seconds have passed.

    Not `concurrent.futures.wait`: it does not wake for a future cancelled
    while queued (the grader closed), and would sit out the whole timeout.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    for future in futures:
        left = None if deadline is None else max(deadline - time.monotonic(), 0)
        with suppress(CancelledError, FutureTimeout):
            future.exception(timeout=left)


def _verdict(judged: Future[Grade]) -> Grade | None:
    """The judge's grade; None if the grader was closed before the judge got to it."""
    try:
        return judged.result()
    except CancelledError:
        return None
