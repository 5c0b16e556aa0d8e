"""Terminal rendering of grades and summaries (rich). Used by the CLI only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.progress import ProgressColumn, Task
from rich.table import Table
from rich.text import Text

from ..models import Grade

__all__ = ["RateColumn", "grade_panel", "grades_table", "run_summary_table", "summary_table"]

_STATUS = {
    "covered": ("✔ covered", "green"),
    "partial": ("◐ partial", "yellow"),
    "missing": ("✘ missing", "red"),
}
_LABEL_STYLE = {"correct": "bold green", "partial": "bold yellow", "incorrect": "bold red"}


def grade_panel(grade: Grade, question: str = "") -> Panel:
    """One answer's grade: score, key points with evidence, misconceptions, feedback."""
    head = Text.assemble(
        (f"{grade.score:.2f}", _LABEL_STYLE[grade.label]),
        f"  ({grade.points:.2f} / {grade.max_points:g} points)  ",
        (grade.label, _LABEL_STYLE[grade.label]),
        f"   confidence {grade.confidence:.2f}   scorer {grade.scorer}",
    )
    table = Table(show_header=True, header_style="bold", expand=True, box=None)
    table.add_column("key point", ratio=3)
    table.add_column("status", no_wrap=True)
    table.add_column("in your answer", ratio=3)
    for r in grade.key_points:
        label, style = _STATUS[r.status]
        table.add_row(escape(r.text), Text(label, style=style), escape(r.evidence) or "—")
    parts: list[object] = [head, table]
    if grade.flags:
        parts.append(Text("flags: " + ", ".join(str(f) for f in grade.flags), style="magenta"))
    if grade.feedback:
        parts.append(Text("\n" + grade.feedback))
    title = escape(question) if question else grade.card_id
    return Panel(Group(*parts), title=title, title_align="left")  # type: ignore[arg-type]


def grades_table(grades: Iterable[Grade]) -> Table:
    table = Table(title="Grades", header_style="bold")
    for col in ("student", "card", "score", "label", "flags"):
        table.add_column(col, justify="right" if col == "score" else "left")
    for g in grades:
        table.add_row(
            escape(g.student_id),
            escape(g.card_id),
            f"{g.score:.2f}",
            Text(g.label, style=_LABEL_STYLE[g.label]),
            ", ".join(str(f) for f in g.flags),
        )
    return table


def summary_table(
    labels: Counter[str], flags: Counter[str], problems: int, seconds: float, scorer: str
) -> Table:
    graded = sum(labels.values())
    table = Table(title="Summary", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("answers graded", str(graded))
    for label in ("correct", "partial", "incorrect"):
        table.add_row(f"  {label}", str(labels.get(label, 0)))
    table.add_row("flagged", ", ".join(f"{k} {v}" for k, v in flags.most_common()) or "none")
    table.add_row("rows skipped", str(problems))
    rate = f" ({graded / seconds:.0f} answers/s)" if seconds > 0 and graded else ""
    table.add_row("time", f"{seconds:.1f} s{rate}")
    table.add_row("scorer", scorer)
    return table


class RateColumn(ProgressColumn):
    """Answers a second, once there is a rate to show."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")


def run_summary_table(summary: Any, db: Any, scorer: str) -> Table:
    """What a stored run did now, and what it holds (a resumed run counts its earlier work)."""
    stats = summary.stats
    table = Table(title=f"Run {summary.run_id} in {db}", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    if summary.new_run:
        table.add_row("this run", "new")
    elif summary.graded == 0 and summary.skipped:
        table.add_row("this run", "already complete: nothing graded again")
    else:
        table.add_row("this run", f"resumed ({summary.skipped} answers already stored)")
    table.add_row("graded now", str(summary.graded))
    if summary.reused:
        table.add_row("unchanged, copied", str(summary.reused))
    table.add_row("answers in the run", str(stats.answers))
    for label in ("correct", "partial", "incorrect"):
        table.add_row(f"  {label}", str(stats.labels.get(label, 0)))
    flags = sorted(stats.flags.items(), key=lambda kv: -kv[1])
    table.add_row("flagged", ", ".join(f"{k} {v}" for k, v in flags) or "none")
    table.add_row("rows skipped", str(stats.problems))
    if stats.tokens_in or stats.tokens_out:
        table.add_row("judge tokens", f"{stats.tokens_in:,} in / {stats.tokens_out:,} out")
    rate = f" ({summary.graded / summary.seconds:.0f} answers/s)" if summary.graded else ""
    table.add_row("time", f"{summary.seconds:.1f} s{rate}")
    table.add_row("scorer", scorer)
    return table
