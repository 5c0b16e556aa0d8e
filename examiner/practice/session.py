"""The practice session: ask, read a typed answer, grade, show feedback, schedule.

The terminal is reached only through a rich Console and a `read` function
(the builtin `input` by default), so the whole loop runs the same under a
pseudo-terminal, a pipe, or a test.

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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.rule import Rule
from rich.text import Text

from ..models import Grade, RubricCard
from ..pipeline import Grader
from .history import Attempt, PracticeHistory
from .schedule import RATINGS, RatingName, Schedule, suggest_rating

__all__ = ["PracticeSession", "SessionSummary", "humanize_delay"]

Reader = Callable[[str], str]

_SHORT = {"a": "again", "h": "hard", "g": "good", "e": "easy", "1": "again", "2": "hard"}
_SHORT |= {"3": "good", "4": "easy"}
_RATING_STYLE = {"again": "red", "hard": "yellow", "good": "green", "easy": "bold green"}


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


class PracticeSession:
    def __init__(
        self,
        grader: Grader,
        history: PracticeHistory,
        queue: list[RubricCard],
        *,
        console: Console,
        read: Reader | None = None,
        schedule: Schedule | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        notices: list[str] | None = None,
    ) -> None:
        self.grader = grader
        self.history = history
        self.queue = queue
        self.console = console
        self.read: Reader = read or console.input
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
                with self.console.status("loading the embedding model…"):
                    self._loader.join()
            self._loader = None
        for notice in self.notices:
            self.console.print(f"[yellow]notice:[/] {escape(notice)}")
        self.notices.clear()
        if self._load_error is not None:
            error, self._load_error = self._load_error, None
            raise error

    # -- the loop -----------------------------------------------------------------------

    def run(self) -> SessionSummary:
        summary = SessionSummary()
        if not self.queue:
            self.console.print("Nothing to practise: no card is due. Come back later.")
            return summary
        self.start_loading()
        pending: tuple[Grade, RatingName, int, int] | None = None
        try:
            for number, card in enumerate(self.queue, 1):
                self._ask(card, number)
                summary.asked += 1
                try:
                    answer, hints = self._read_answer(card)
                except _Skip:
                    summary.skipped += 1
                    self.console.print("[dim]skipped[/]")
                    continue
                started = time.perf_counter()
                grade = self._grade(card, answer)
                elapsed = round((time.perf_counter() - started) * 1000)
                suggested = suggest_rating(grade.score, hints)
                pending = (grade, suggested, hints, elapsed)
                self._show(card, grade, hints)
                rating = self._read_rating(suggested)
                attempt = self._record(grade, rating, suggested, hints, elapsed)
                pending = None  # stored: a Ctrl-C from here on must not store it again
                summary.attempts.append(attempt)
                self._say_next(attempt)
        except _Quit:
            pass
        except KeyboardInterrupt:
            summary.interrupted = True
            self.console.print()  # end the prompt's line: the terminal echoed only ^C
            if pending is not None:
                grade, suggested, hints, elapsed = pending
                attempt = self._record(grade, suggested, suggested, hints, elapsed)
                summary.attempts.append(attempt)
                self._say_next(attempt)
        self._finish(summary)
        return summary

    def _ask(self, card: RubricCard, number: int) -> None:
        self.console.print(Rule(f"card {number} of {len(self.queue)}", style="dim"))
        self.console.print(Panel(Text(card.question, style="bold"), title=escape(card.id)))
        self.console.print(
            "[dim]Type your answer; an empty line or Ctrl-D submits. "
            "`?` a hint · `skip` · `quit`[/]"
        )

    def _read_answer(self, card: RubricCard) -> tuple[str, int]:
        """The typed answer and how many hints were shown; raises _Skip or _Quit."""
        lines: list[str] = []
        hints = 0
        empty_once = False
        while True:
            try:
                line = self.read("> ")
            except EOFError:
                self.console.print()  # Ctrl-D echoes no newline: end the prompt's line
                if not lines:
                    raise _Quit from None  # input closed before an answer: end the session
                return "\n".join(lines), hints
            word = line.strip().casefold()
            if not lines and word in ("skip", "quit", "exit"):
                raise _Skip if word == "skip" else _Quit
            if word == "?":
                if hints < len(card.key_points):
                    hints += 1
                    self._hint(card, hints)
                else:
                    self.console.print("[dim]No more hints: that was every key point.[/]")
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
            self.console.print(
                "[dim]No answer yet. Type it, `?` for a hint, `skip`, or Enter again to see "
                "the answer.[/]"
            )

    def _hint(self, card: RubricCard, n: int) -> None:
        # The heaviest key points first: the most useful nudge.
        points = sorted(card.key_points, key=lambda p: -p.weight)
        self.console.print(
            f"[cyan]hint {n}/{len(points)}:[/] {escape(points[n - 1].text)} "
            "[dim](an answer after a hint is rated at most hard)[/]"
        )

    def _grade(self, card: RubricCard, answer: str) -> Grade:
        self._wait_for_model()
        if self.grader.judge_settings is not None:
            with self.console.status("asking the judge…"):
                return self.grader.grade(card.id, answer, self.history.student)
        return self.grader.grade(card.id, answer, self.history.student)

    def _show(self, card: RubricCard, grade: Grade, hints: int) -> None:
        from ..render import grade_panel

        self.console.print(grade_panel(grade, card.question))
        if grade.judge_feedback is not None:
            fb = grade.judge_feedback
            for head, text in (
                ("right", fb.right),
                ("missing", fb.missing),
                ("next", fb.next_step),
            ):
                if text:
                    self.console.print(f"[bold]{head}:[/] {escape(text)}")
        for note in grade.notes:
            if note.startswith("judge_failed"):
                self.console.print(f"[yellow]notice:[/] {escape(note)}")
        if card.reference_answer:
            self.console.print(
                Panel(escape(card.reference_answer), title="reference answer", style="dim")
            )

    def _read_rating(self, suggested: RatingName) -> RatingName:
        prompt = (
            "Rate: again (a) · hard (h) · good (g) · easy (e) — Enter for "
            f"[{_RATING_STYLE[suggested]}]{suggested}[/]: "
        )
        while True:
            try:
                word = self.read(prompt).strip().casefold()
            except EOFError:
                self.console.print()
                return suggested
            if not word:
                return suggested
            name = _SHORT.get(word, word)
            if name in RATINGS:
                return name
            self.console.print("[dim]Type a, h, g or e (or Enter for the suggestion).[/]")

    def _record(
        self, grade: Grade, rating: RatingName, suggested: RatingName, hints: int, elapsed: int
    ) -> Attempt:
        attempt = self.history.record(
            grade,
            rating,
            schedule=self.schedule,
            rubric=self.grader.rubric,
            when=self.clock(),
            suggested=suggested,
            hints=hints,
            duration_ms=elapsed,
        )
        return attempt

    def _say_next(self, attempt: Attempt) -> None:
        rating, due = attempt.rating, attempt.due_at
        self.console.print(
            f"rated [{_RATING_STYLE[rating]}]{rating}[/] · next review "
            f"{humanize_delay(due - attempt.reviewed_at)} "
            f"[dim]({due.astimezone():%a %d %b %H:%M})[/]"
        )

    def _finish(self, summary: SessionSummary) -> None:
        done = len(summary.attempts)
        parts = [f"{done} answered", f"{summary.skipped} skipped"]
        if summary.mean_score is not None:
            parts.append(f"mean score {summary.mean_score:.2f}")
        ratings = ", ".join(f"{r} {summary.ratings[r]}" for r in RATINGS if summary.ratings[r])
        self.console.print(Rule("session", style="dim"))
        self.console.print(" · ".join(parts) + (f" ({ratings})" if ratings else ""))
        where = Path(self.history.store.path)
        saved = "Interrupted: " if summary.interrupted else ""
        self.console.print(f"{saved}progress saved in {escape(str(where))}")
