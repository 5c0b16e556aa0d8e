"""`examiner serve`: practice and teacher review in a browser, on this machine's store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..store import DEFAULT_DB
from ._app import app, out, reports_errors
from .options import ScorerOpt, check_scorer


@app.command()
@reports_errors
def serve(
    rubric: Annotated[
        list[Path] | None,
        typer.Option(
            "--rubric", metavar="FILE", help="A rubric to practise and grade with (repeatable)."
        ),
    ] = None,
    db: Annotated[
        Path, typer.Option("--db", help="The results database (default: examiner.db here).")
    ] = DEFAULT_DB,
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            metavar="FILE",
            help="The practice history, as `examiner practice --db` (default: "
            "$EXAMINER_HOME/examiner.db).",
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; anything but loopback needs the teacher token."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            help="The teacher token (default: none on loopback, a new one printed at start "
            "elsewhere). Prefer $EXAMINER_TEACHER_TOKEN: a flag shows in the process list.",
            envvar="EXAMINER_TEACHER_TOKEN",
            show_default=False,
        ),
    ] = None,
    scorer: ScorerOpt = "auto",
) -> None:
    """Serve practice and teacher review as a local web app (needs the web extra).

    Students pick a deck and their name and practise as with `examiner practice` (same
    history); teachers grade uploaded files, review flagged grades and open the reports.
    """
    from ..web import ServeConfig, check_installed

    check_installed()
    check_scorer(scorer)
    config = ServeConfig.build(
        rubric or [], db, history=history, host=host, port=port, token=token, scorer=scorer
    )
    from ..web.server import serve as run_server

    run_server(config, say=out.print)
