"""`examiner runs`: the grading runs a database holds."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..store import DEFAULT_DB
from ._app import app, escape, out, reports_errors
from .options import DbOption, open_db


@app.command()
@reports_errors
def runs(db: DbOption = DEFAULT_DB) -> None:
    """List the grading runs in the database: status, rubric, answers, labels, flags, tokens."""
    from rich import box
    from rich.table import Table

    from ..store import RunStats
    from ..store.pending import open_batches

    store = open_db(db)
    records = store.runs()
    if not records:
        out.print(f"no runs yet in {escape(str(db))}")
        return
    stats = store.all_run_stats()
    batches = open_batches(store)
    # Token and bad-row columns only when some run has them: 80 columns is tight.
    show_tokens = any(x.tokens_in + x.tokens_out for x in stats.values())
    show_bad = any(x.problems for x in stats.values())
    table = Table(title=f"Runs in {escape(str(db))}", header_style="bold", box=box.SIMPLE)
    table.add_column("run", justify="right", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("rubric · answers file", min_width=16, overflow="fold")
    table.add_column("answers", justify="right")
    table.add_column("✔/◐/✘", justify="right", no_wrap=True)
    table.add_column("flagged", justify="right")
    if show_bad:
        table.add_column("bad rows", justify="right")
    if show_tokens:
        table.add_column("tokens", justify="right")
    for run in records:
        s = stats.get(run.id) or RunStats()
        reused = f" ({s.reused} reused)" if s.reused else ""
        cells = [
            str(run.id),
            _local_time(run.started_at),
            "waiting" if run.id in batches and run.shown_status != "running" else run.shown_status,
            escape(
                f"{run.rubric_title or Path(run.rubric_path).name} · "
                f"{Path(run.submissions_path).name}"
            ),
            f"{s.answers}{reused}",
            "/".join(str(s.labels.get(k, 0)) for k in ("correct", "partial", "incorrect")),
            str(s.flagged),
        ]
        if show_bad:
            cells.append(str(s.problems))
        if show_tokens:
            cells.append(f"{s.tokens_in + s.tokens_out:,}")
        table.add_row(*cells)
    out.print(table)
    for run_id, batch in batches.items():
        out.print(f"run {run_id} waits for the judge's {escape(batch.describe())}")


def _local_time(stamp: str) -> str:
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%m-%d %H:%M")
    except ValueError:
        return stamp
