"""`examiner review`: a teacher accepts or overrides the grades flagged for review."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ..store import DEFAULT_DB
from ..store.reviews import parse_score
from ._app import app, err, escape, out, reports_errors
from .options import DbOption, RunOption, open_db

if TYPE_CHECKING:
    from ..store import Store, StoredGrade


@app.command()
@reports_errors
def review(
    db: DbOption = DEFAULT_DB,
    run: RunOption = None,
    set_score: Annotated[
        tuple[str, str, str] | None,
        typer.Option(
            "--set",
            metavar="STUDENT CARD SCORE",
            help="Override one grade without prompting: card id as stored, score 0..1, "
            "3/5 or 60%. Needs --note.",
        ),
    ] = None,
    note: Annotated[
        str | None, typer.Option(help="Why (kept with the override, shown in exports).")
    ] = None,
    author: Annotated[
        str | None, typer.Option(help="Who decided (default: your user name).")
    ] = None,
    answer_id: Annotated[
        str | None,
        typer.Option("--answer-id", help="With --set: which answer, if a student has several."),
    ] = None,
    show_all: Annotated[
        bool,
        typer.Option(
            "--all", help="List reviewed flagged grades too (score → override, ✓ accepted)."
        ),
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="Rows to list in the table.")] = 100,
) -> None:
    """List flagged grades and accept or override them; overrides win in every export.

    Flagged means needs_review, possible_injection, judge_failed,
    possible_contradiction or a stage disagreement. On a terminal, each is shown
    in turn: `a` accepts, a score (0.6, 3/5, 60%) overrides, `s` skips, `q` quits.
    """
    if set_score is not None:
        student, card, score_text = set_score
        try:
            score = parse_score(score_text)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--set") from None
        if not note or not note.strip():
            raise typer.BadParameter(
                "an override needs its reason: add --note TEXT", param_hint="--note"
            )
        _set_score(open_db(db), student, card, score, note.strip(), author, answer_id, run)
        return
    store = open_db(db)
    flagged = _flagged(store, run, show_all)
    if not flagged:
        out.print("nothing to review: no flagged grades" + ("" if show_all else " left"))
        return
    out.print(_flagged_table(flagged, limit))
    if _interactive():
        _review_each(store, [s for s in flagged if s.review is None], author)
    else:
        err.print("(not a terminal: listing only; use --set STUDENT CARD SCORE --note TEXT)")


def _interactive() -> bool:
    return sys.stdin.isatty()


def _flagged(store: Store, run: int | None, show_all: bool) -> list[StoredGrade]:
    from ..store import is_review_flag, latest_records

    if run is None and store.latest_run() is None:
        return []
    return [
        s
        for s in latest_records(store, run)
        if any(is_review_flag(f) for f in s.flags) and (show_all or s.review is None)
    ]


def _flagged_table(flagged: list[StoredGrade], limit: int) -> object:
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Flagged grades ({len(flagged)})", header_style="bold", box=box.SIMPLE)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("student", min_width=6, max_width=14, overflow="fold")
    table.add_column("card", min_width=12, max_width=24, overflow="fold")
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("flags", min_width=14, overflow="fold")
    # One line per answer: the full text is shown when reviewing it.
    table.add_column("answer", min_width=10, max_width=30, no_wrap=True, overflow="ellipsis")
    for i, s in enumerate(flagged[:limit], 1):
        g = s.grade
        table.add_row(
            str(i),
            escape(g.student_id),
            escape(g.card_id),
            _score_text(s),
            ", ".join(s.flags),
            escape(" ".join(g.answer.split())),
        )
    if len(flagged) <= limit:
        return table
    return Group(table, Text(f"… and {len(flagged) - limit} more (--limit N shows more)"))


def _score_text(s: StoredGrade) -> str:
    """The score, and what a teacher made of it: `0.31 → 0.50` or `0.31 ✓`."""
    score = f"{s.grade.score:.2f}"
    if s.review is None:
        return score
    if s.review.action == "override" and s.review.score is not None:
        return f"{score} → {s.review.score:.2f}"
    return f"{score} ✓"


def _review_each(store: Store, todo: list[StoredGrade], author: str | None) -> None:
    """Walk the teacher through each unreviewed flagged grade."""
    counts = {"accept": 0, "override": 0}
    try:
        for i, stored in enumerate(todo, 1):
            if not _review_one(store, stored, f"{i}/{len(todo)}", author, counts):
                break
    except EOFError:  # Ctrl-D: stop like `q`; what was decided is already stored
        out.print()
    out.print(
        f"reviewed {sum(counts.values())}: {counts['accept']} accepted, "
        f"{counts['override']} overridden"
    )


def _review_one(
    store: Store, stored: StoredGrade, position: str, author: str | None, counts: dict[str, int]
) -> bool:
    """Show one flagged grade and act on the teacher's choice; False to stop."""
    from rich.panel import Panel
    from rich.prompt import Prompt

    from .render import grade_panel

    grade = stored.grade
    out.print(
        Panel(
            escape(grade.answer) or "(empty)",
            title=f"{position}  {escape(grade.student_id)} · {escape(grade.card_id)}",
            title_align="left",
        )
    )
    out.print(grade_panel(grade))
    for why in grade.notes:
        out.print(f"  [magenta]{escape(why)}[/]")
    while True:
        answer = Prompt.ask(
            r"\[a]ccept, a score (0.6, 3/5, 60%) to override, \[s]kip, \[q]uit",
            console=out,
            default="s",
        ).strip()
        choice = answer.lower()
        if choice in ("q", "quit"):
            return False
        if choice in ("s", "skip", ""):
            return True
        if choice in ("a", "accept"):
            note = Prompt.ask("note (optional)", console=out, default="")
            store.add_review(stored, "accept", note=note.strip(), author=author)
            counts["accept"] += 1
            return True
        try:
            score = parse_score(answer)
        except ValueError as exc:
            out.print(f"[red]{escape(str(exc))}[/]")
            continue
        note = ""
        while not note:
            note = Prompt.ask("why (kept with the override)", console=out).strip()
        store.add_review(stored, "override", score=score, note=note, author=author)
        counts["override"] += 1
        return True


def _set_score(
    store: Store,
    student: str,
    card: str,
    score: float,
    note: str,
    author: str | None,
    answer_id: str | None,
    run: int | None,
) -> None:
    from ..store import override_grade

    stored, done = override_grade(
        store, student, card, score, note, author=author, answer_id=answer_id, run_id=run
    )
    out.print(
        f"overrode {escape(student)} · {escape(card)}: {stored.grade.score:.2f} → "
        f"{score:.2f} by {escape(done.author)} ({escape(note)})"
    )
