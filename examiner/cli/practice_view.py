"""The practice session in a terminal: rich output, answers read line by line.

The terminal is reached only through a rich Console and a `read` function
(the console's `input` by default), so the whole session runs the same under
a pseudo-terminal, a pipe, or a test.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.rule import Rule
from rich.text import Text

from ..models import Flag, Grade, RubricCard
from ..practice.history import Attempt
from ..practice.schedule import RATINGS, RatingName
from ..practice.session import SessionSummary, humanize_delay
from .render import grade_panel

__all__ = ["TerminalView"]

Reader = Callable[[str], str]

_RATING_STYLE = {"again": "red", "hard": "yellow", "good": "green", "easy": "bold green"}


class TerminalView:
    """A `PracticeView` that draws on a rich Console."""

    def __init__(self, console: Console, read: Reader | None = None) -> None:
        self.console = console
        self.read: Reader = read or console.input

    def read_answer_line(self) -> str:
        return self.read("> ")

    def read_rating(self, suggested: RatingName) -> str:
        return self.read(
            "Rate: again (a) · hard (h) · good (g) · easy (e) — Enter for "
            f"[{_RATING_STYLE[suggested]}]{suggested}[/]: "
        )

    def waiting(self, what: str) -> AbstractContextManager[object]:
        return self.console.status(what)

    def notice(self, text: str) -> None:
        self.console.print(f"[yellow]notice:[/] {escape(text)}")

    def nothing_due(self) -> None:
        self.console.print("Nothing to practise: no card is due. Come back later.")

    def question(self, card: RubricCard, number: int, total: int) -> None:
        self.console.print(Rule(f"card {number} of {total}", style="dim"))
        self.console.print(Panel(Text(card.question, style="bold"), title=escape(card.id)))
        self.console.print(
            "[dim]Type your answer; an empty line or Ctrl-D submits. "
            "`?` a hint · `skip` · `quit`[/]"
        )

    def skipped(self) -> None:
        self.console.print("[dim]skipped[/]")

    def end_line(self) -> None:
        self.console.print()

    def hint(self, text: str, number: int, total: int) -> None:
        self.console.print(
            f"[cyan]hint {number}/{total}:[/] {escape(text)} "
            "[dim](an answer after a hint is rated at most hard)[/]"
        )

    def no_more_hints(self) -> None:
        self.console.print("[dim]No more hints: that was every key point.[/]")

    def no_answer_yet(self) -> None:
        self.console.print(
            "[dim]No answer yet. Type it, `?` for a hint, `skip`, or Enter again to see "
            "the answer.[/]"
        )

    def feedback(self, card: RubricCard, grade: Grade) -> None:
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
                self.notice(note)
        if card.reference_answer:
            self.console.print(
                Panel(escape(card.reference_answer), title="reference answer", style="dim")
            )

    def unknown_rating(self) -> None:
        self.console.print("[dim]Type a, h, g or e (or Enter for the suggestion).[/]")

    def judge_pending(self) -> None:
        self.console.print(
            "[dim]The judge is reading your answer: press [bold]j[/bold] to wait for its "
            "verdict, or rate now.[/]"
        )

    def judge_arrived(self, grade: Grade, which: str) -> None:
        if Flag.JUDGE_FAILED in grade.flags:
            reason = next(
                (
                    n.removeprefix("judge_failed: ")
                    for n in grade.notes
                    if n.startswith("judge_failed")
                ),
                "no verdict",
            )
            self.console.print(
                f"[yellow]judge on {escape(which)} failed[/] ({escape(reason)}): "
                f"its score stays {grade.score:.2f}"
            )
            return
        fb = grade.judge_feedback
        said = (fb.missing or fb.right or fb.next_step) if fb is not None else ""
        said = said or grade.feedback
        self.console.print(
            f"[cyan]judge on {escape(which)}:[/] {grade.score:.2f}"
            + (f" — {escape(said)}" if said else "")
            + " [dim](stored; your rating stays)[/]"
        )

    def judge_late(self, cards: int) -> None:
        what = "the last card" if cards == 1 else f"{cards} cards"
        self.console.print(
            f"[dim]The judge has not answered on {what}: the embedding grade stays.[/]"
        )

    def scheduled(self, attempt: Attempt) -> None:
        rating, due = attempt.rating, attempt.due_at
        self.console.print(
            f"rated [{_RATING_STYLE[rating]}]{rating}[/] · next review "
            f"{humanize_delay(due - attempt.reviewed_at)} "
            f"[dim]({due.astimezone():%a %d %b %H:%M})[/]"
        )

    def finished(self, summary: SessionSummary, saved_in: Path) -> None:
        done = len(summary.attempts)
        parts = [f"{done} answered", f"{summary.skipped} skipped"]
        if summary.mean_score is not None:
            parts.append(f"mean score {summary.mean_score:.2f}")
        ratings = ", ".join(f"{r} {summary.ratings[r]}" for r in RATINGS if summary.ratings[r])
        self.console.print(Rule("session", style="dim"))
        self.console.print(" · ".join(parts) + (f" ({ratings})" if ratings else ""))
        saved = "Interrupted: " if summary.interrupted else ""
        self.console.print(f"{saved}progress saved in {escape(str(saved_in))}")
