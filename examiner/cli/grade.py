"""`examiner grade`: one answer on screen, or a whole submissions file."""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import Problem
from ._app import app, err, escape, out, reports_errors


@app.command()
@reports_errors
def grade(
    rubric: Annotated[Path, typer.Argument(help="Rubric YAML file.")],
    submissions: Annotated[
        Path | None,
        typer.Argument(help="Submissions CSV or JSONL (student_id, card, answer)."),
    ] = None,
    card: Annotated[
        str | None, typer.Option(help="Grade one answer to this card (id, number or question).")
    ] = None,
    answer: Annotated[
        str | None, typer.Option(help="The answer to grade with --card (default: stdin).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write results to .jsonl or .csv.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print grades as JSON.")] = False,
    scorer: Annotated[
        str, typer.Option(help="auto (embedding, lexical if no model), embedding or lexical.")
    ] = "auto",
    model: Annotated[
        str | None,
        typer.Option(help="Sentence-transformers model name or path (default: all-MiniLM-L6-v2)."),
    ] = None,
    calibration: Annotated[
        Path | None, typer.Option(help="Calibration JSON fitted by `examiner calibrate`.")
    ] = None,
) -> None:
    """Grade one answer (--card) or a whole submissions file."""
    from ..calibration import load_calibration
    from ..pipeline import Grader
    from ..rubric import load_rubric

    if scorer not in ("auto", "embedding", "lexical"):
        raise typer.BadParameter("use auto, embedding or lexical", param_hint="--scorer")
    if (submissions is None) == (card is None):
        raise typer.BadParameter(
            "give a SUBMISSIONS file, or --card (with --answer or the answer on stdin)"
        )
    loaded = load_rubric(rubric)
    cal = load_calibration(calibration) if calibration else None
    grader = Grader(
        loaded,
        scorer=scorer,  # type: ignore[arg-type]
        model=model,
        calibration=cal,
        notice=lambda msg: err.print(f"[yellow]notice:[/] {escape(msg)}"),
    )
    if card is not None:
        _grade_one(grader, card, answer, as_json)
    else:
        assert submissions is not None
        _grade_file(grader, submissions, output, as_json)


def _grade_one(grader: Any, card: str, answer: str | None, as_json: bool) -> None:
    from ..render import grade_panel

    found = grader.card(card)
    if answer is None:
        if sys.stdin.isatty():
            err.print("Type the answer, then Ctrl-D:")
        answer = sys.stdin.read()
    with err.status("grading…"):
        result = grader.grade(found.id, answer)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        out.print(grade_panel(result, found.question))


def _grade_file(grader: Any, path: Path, output: Path | None, as_json: bool) -> None:
    from contextlib import nullcontext

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from ..render import grades_table, summary_table
    from ..results import open_results
    from ..submissions import iter_records, iter_submissions

    total = sum(1 for _ in iter_records(path))
    labels: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    problems: list[Problem] = []
    shown: list[Any] = []
    started = time.perf_counter()
    writer_ctx = open_results(output) if output else nullcontext(None)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        "[progress.percentage]{task.percentage:>3.0f}%",
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=as_json,
    )
    with writer_ctx as writer, progress:
        task = progress.add_task("grading", total=total)
        for item in grader.grade_many(iter_submissions(path), source=str(path)):
            progress.advance(task)
            if isinstance(item, Problem):
                problems.append(item)
                err.print(f"[red]skipped[/] {escape(str(item))}")
                continue
            labels[item.label] += 1
            flags.update(str(f) for f in item.flags)
            if writer is not None:
                writer.write(item)
            if as_json:
                sys.stdout.write(item.model_dump_json() + "\n")
            elif output is None and len(shown) < 200:
                shown.append(item)
    seconds = time.perf_counter() - started
    if as_json:
        return
    if output is None:
        out.print(grades_table(shown))
        if sum(labels.values()) > len(shown):
            out.print(f"(first {len(shown)} shown: use --out FILE to keep them all)")
    out.print(summary_table(labels, flags, len(problems), seconds, grader.scorer.name))
    if output is not None:
        out.print(f"wrote {sum(labels.values())} grades to {output}")
