"""`examiner export`: the latest grade of every answer, teachers' reviews applied."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..store import DEFAULT_DB
from ._app import app, escape, out, reports_errors
from .options import DbOption, RunOption, open_db


@app.command()
@reports_errors
def export(
    output: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write: .jsonl (whole grades) or .csv.")
    ],
    db: DbOption = DEFAULT_DB,
    run: RunOption = None,
) -> None:
    """Write the latest grade of every answer, teachers' overrides applied, to JSONL or CSV."""
    from ..formats.results import open_results
    from ..store import StoreError, apply_review, latest_records

    store = open_db(db)
    if store.latest_run() is None:
        raise StoreError(f"{db}: no runs yet: nothing to export")
    written = reviewed = 0
    with open_results(output) as writer:
        for stored in latest_records(store, run):
            writer.write(apply_review(stored.grade, stored.review))
            written += 1
            reviewed += stored.review is not None
    extra = f" ({reviewed} reviewed by a teacher)" if reviewed else ""
    out.print(f"wrote {written} grades{extra} to {escape(str(output))}")
