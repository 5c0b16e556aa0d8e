"""`examiner practice` and `examiner stats`: typed-answer practice with spaced repetition."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._app import app, escape, out, reports_errors
from .options import (
    ApiKeyOpt,
    BaseUrlOpt,
    CalibrationOpt,
    JudgeModelOpt,
    JudgeOpt,
    ModelOpt,
    RubricArg,
    ScorerOpt,
    ThreadsOpt,
    make_grader,
)

if TYPE_CHECKING:
    from ..practice import PracticeStats

StudentOpt = Annotated[
    str | None,
    typer.Option(
        "--student", help="Whose history (default: your login name). One file holds everyone's."
    ),
]
HistoryOpt = Annotated[
    Path | None,
    typer.Option(
        "--db",
        metavar="FILE",
        help="The practice history database (default: $EXAMINER_HOME/examiner.db, "
        "~/.examiner/examiner.db without it).",
    ),
]


def _student(student: str | None) -> str:
    from ..store import default_author

    return student or default_author()


@app.command()
@reports_errors
def practice(
    rubric: RubricArg,
    due: Annotated[
        bool, typer.Option("--due", help="Only cards that are due, most overdue first.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Ask at most N cards this session.")
    ] = None,
    new: Annotated[
        int | None,
        typer.Option(min=0, help="Introduce at most N cards never practised (default: all)."),
    ] = None,
    shuffle: Annotated[
        bool, typer.Option("--shuffle", help="New cards in random order, not deck order.")
    ] = False,
    student: StudentOpt = None,
    db: HistoryOpt = None,
    scorer: ScorerOpt = "auto",
    model: ModelOpt = None,
    threads: ThreadsOpt = None,
    calibration: CalibrationOpt = None,
    judge: JudgeOpt = None,
    judge_model: JudgeModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Practise a deck: type answers, get feedback at once, review each card when it is due.

    Due cards come first (most overdue first), then new cards, then, unless --due, the
    cards not yet due. Type `?` for a hint, `skip` or `quit`; Ctrl-C saves and exits.
    """
    from ..config import judge_settings
    from ..practice import PracticeHistory, order_cards, rubric_key
    from ..practice.session import PracticeSession
    from ..rubric import load_rubric
    from .practice_view import TerminalView

    settings = judge_settings(mode=judge, model=judge_model, base_url=base_url, api_key=api_key)
    loaded = load_rubric(rubric)
    notices: list[str] = []
    grader = make_grader(
        loaded,
        scorer=scorer,
        model=model,
        calibration=calibration,
        judge=settings,
        notice=notices.append,
        threads=threads,
    )
    name = _student(student)
    with grader, PracticeHistory.open(name, rubric_key(loaded, rubric), db) as history:
        queue = order_cards(
            loaded.cards,
            history.states(),
            datetime.now(UTC),
            due_only=due,
            new=new,
            limit=limit,
            shuffle=shuffle,
        )
        view = TerminalView(out)
        session = PracticeSession(grader, history, queue, view=view, notices=notices)
        session.run()
        if grader.judging:
            # A verdict left behind still holds the judge's connection until it ends.
            with out.status("closing the judge's connection…"):
                grader.close()


@app.command()
@reports_errors
def stats(
    rubric: RubricArg,
    student: StudentOpt = None,
    db: HistoryOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Practice progress: cards due today and this week, retention, score trend per card,
    weakest key points."""
    from ..errors import StoreError
    from ..practice import PracticeHistory, default_history_db, practice_stats, rubric_key
    from ..rubric import load_rubric

    loaded = load_rubric(rubric)
    path = db or default_history_db()
    if not path.exists():
        raise StoreError(f"{path}: no practice history yet; run `examiner practice {rubric}` first")
    with PracticeHistory.open(_student(student), rubric_key(loaded, rubric), path) as history:
        figures = practice_stats(loaded, history.attempts(), datetime.now(UTC))
    if as_json:
        sys.stdout.write(json.dumps(_as_json(figures), indent=2) + "\n")
        return
    _render(figures, history.student)


def _as_json(s: PracticeStats) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(s)
    for card, progress in zip(data["per_card"], s.per_card, strict=True):
        card["due"] = progress.due.isoformat() if progress.due else None
        card["attempts"] = progress.attempts
        card["trend"] = progress.trend
    return data


def _render(s: PracticeStats, student: str) -> None:
    from rich.table import Table

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.0%}"

    head = Table(title=f"Practice of {escape(student)}", show_header=False, box=None)
    head.add_column(style="bold")
    head.add_column()
    head.add_row("cards", f"{s.cards} ({s.new} never practised)")
    head.add_row("due now", str(s.due_now))
    head.add_row("due today", str(s.due_today))
    head.add_row("due this week", str(s.due_week))
    head.add_row("reviews", str(s.reviews))
    head.add_row(
        "retention", f"{pct(s.retention)} of {s.retention_reviews} reviews of learned cards"
    )
    head.add_row("recall now (fsrs)", pct(s.recall_now))
    out.print(head)

    cards = Table(title="Per card", header_style="bold")
    for col in ("card", "tries", "scores, oldest first", "trend", "stage", "due"):
        cards.add_column(col, justify="right" if col in ("tries", "trend") else "left")
    for p in s.per_card:
        trend = "" if p.trend is None else f"{p.trend:+.2f}"
        due = "" if p.due is None else f"{p.due.astimezone():%d %b %H:%M}"
        cards.add_row(
            escape(p.card_id),
            str(p.attempts),
            _sparkline(p.scores[-8:]) + "  " + " ".join(f"{v:.2f}" for v in p.scores[-4:]),
            trend,
            p.stage,
            due,
        )
    out.print(cards)

    if s.weakest:
        weak = Table(title="Weakest key points", header_style="bold")
        for col in ("card", "key point", "mean coverage", "missed"):
            weak.add_column(col, justify="right" if col in ("mean coverage", "missed") else "left")
        for k in s.weakest:
            weak.add_row(
                escape(k.card_id),
                escape(k.text),
                f"{k.mean_coverage:.2f}",
                f"{k.missed} of {k.attempts}",
            )
        out.print(weak)


def _sparkline(values: list[float]) -> str:
    bars = "▁▂▃▄▅▆▇█"
    return "".join(bars[min(int(v * len(bars)), len(bars) - 1)] for v in values)
