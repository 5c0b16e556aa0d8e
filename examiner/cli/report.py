"""`examiner report`: feedback for each student, the class report and gradebooks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer

from ._app import app, err, escape, out, reports_errors

FORMAT_CHOICES = ("html", "md", "csv", "all")


@app.command()
@reports_errors
def report(
    db: Annotated[
        Path, typer.Argument(metavar="DB", help="The results database (e.g. examiner.db).")
    ],
    output: Annotated[
        Path, typer.Option("--out", "-o", metavar="DIR", help="Directory to write into (created).")
    ] = Path("reports"),
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="html|md|csv|all",
            help="html (class report, student pages, index), md (student pages, index), "
            "csv (Canvas and Moodle gradebooks, one row per answer) or all.",
        ),
    ] = "all",
    run: Annotated[
        int | None,
        typer.Option(
            "--run",
            metavar="ID",
            help="Only this run (ids: `examiner runs`); default: the latest grade of each answer "
            "across the runs of the latest run's rubric.",
        ),
    ] = None,
    student: Annotated[
        list[str] | None,
        typer.Option(
            "--student",
            metavar="ID",
            help="Only this student's feedback page (repeatable); no class report or CSVs.",
        ),
    ] = None,
    rubric: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="The rubric, for the questions (default: the file the run recorded, if it is "
            "still there).",
        ),
    ] = None,
) -> None:
    """Write feedback reports: per student (HTML, Markdown), the class report, gradebook CSVs.

    Teachers' overrides are the grade everywhere. Reports need no network to view, escape
    every answer, and never contain an API key or server address.
    """
    from ..reports import FORMATS, Format, load_report_data, write_reports

    choice = fmt.strip().lower()
    if choice not in FORMAT_CHOICES:
        raise typer.BadParameter("use html, md, csv or all", param_hint="--format")
    formats: tuple[Format, ...] = FORMATS if choice == "all" else (cast("Format", choice),)
    if student and choice == "csv":
        raise typer.BadParameter(
            "--student writes feedback pages: use --format html, md or all", param_hint="--student"
        )
    with err.status("reading the grades…"):
        data = load_report_data(db, run_id=run, rubric=rubric)
    for notice in data.notices:
        err.print(f"[yellow]notice:[/] {escape(notice)}")
    status = "drawing the class report…" if "html" in formats and not student else "writing…"
    with err.status(status):
        written = write_reports(data, output, formats, students=student or None)
    what = [f"{written.students} student report{'s' if written.students != 1 else ''}"]
    names = {p.name for p in written.files}
    if "class-report.html" in names:
        what.append("the class report")
    if "gradebook-canvas.csv" in names:
        what.append("gradebooks for Canvas and Moodle, answers.csv")
    out.print(f"wrote {', '.join(what)} to {escape(str(output))}/")
    if "index.html" in names:
        out.print(f"open {escape(str(output / 'index.html'))}")
