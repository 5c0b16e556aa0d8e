"""The `examiner` command line. Thin: parse, call the library once, render.

This is the only module that turns `ExaminerError`s into exit codes:
0 success, 1 a user error (one clear message, no traceback), 2 bad usage.
"""

from __future__ import annotations

import functools
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from . import __version__
from .errors import ExaminerError, InputError, Problem

app = typer.Typer(
    name="examiner",
    help="Grade free-text answers to flashcards against a rubric of key points.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
rubric_app = typer.Typer(
    help="Draft and validate rubrics.", no_args_is_help=True, add_completion=False
)
app.add_typer(rubric_app, name="rubric")

out = Console(highlight=False)
# Messages stay on one line however narrow the terminal: scripts grep them.
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(func: F) -> F:
    """Turn an ExaminerError into its message and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            for problem in exc.problems:
                err.print(f"[red]error:[/] {_escape(str(problem))}")
            raise typer.Exit(1) from None
        except ExaminerError as exc:
            err.print(f"[red]error:[/] {_escape(str(exc))}")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _version(value: bool) -> None:
    if value:
        out.print(f"examiner {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Grade free-text answers to flashcards against a rubric of key points."""
    from .config import load_settings

    load_settings()


# --- rubric ---------------------------------------------------------------


@rubric_app.command("build")
@reports_errors
def rubric_build(
    deck: Annotated[Path, typer.Argument(help="Deck: .txt lesson, .md, .csv/.tsv, .json/.jsonl.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Rubric YAML to write (default: stdout).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Title of the rubric.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Draft a rubric (key points per card) from a deck, for a teacher to edit."""
    from .decks import load_deck
    from .rubric import build_rubric, rubric_to_yaml, save_rubric

    rubric = build_rubric(load_deck(deck), title=title)
    if output is None:
        sys.stdout.write(rubric_to_yaml(rubric))
        return
    if output.exists() and not force:
        raise ExaminerError(f"{output} exists: pass --force to overwrite it")
    save_rubric(rubric, output)
    points = sum(len(c.key_points) for c in rubric.cards)
    err.print(
        f"wrote {output}: {len(rubric.cards)} cards, {points} key points. Edit it, then "
        f"run `examiner rubric check {output}`."
    )


@rubric_app.command("check")
@reports_errors
def rubric_check(
    rubric: Annotated[Path, typer.Argument(help="Rubric YAML file to validate.")],
) -> None:
    """Validate a rubric and list every problem with its line."""
    from .rubric import check_rubric, load_rubric

    problems = check_rubric(rubric)
    if problems:
        raise InputError(problems)
    loaded = load_rubric(rubric)
    points = sum(len(c.key_points) for c in loaded.cards)
    wrong = sum(len(c.misconceptions) for c in loaded.cards)
    out.print(
        f"{rubric}: valid — {len(loaded.cards)} cards, {points} key points, {wrong} misconceptions"
    )


# --- grade ------------------------------------------------------------------


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
    from .calibration import load_calibration
    from .pipeline import Grader
    from .rubric import load_rubric

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
        notice=lambda msg: err.print(f"[yellow]notice:[/] {_escape(msg)}"),
    )
    if card is not None:
        _grade_one(grader, card, answer, as_json)
    else:
        assert submissions is not None
        _grade_file(grader, submissions, output, as_json)


def _grade_one(grader: Any, card: str, answer: str | None, as_json: bool) -> None:
    from .render import grade_panel

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

    from .render import grades_table, summary_table
    from .results import open_results
    from .submissions import iter_records, iter_submissions

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
                err.print(f"[red]skipped[/] {_escape(str(item))}")
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


if __name__ == "__main__":  # pragma: no cover
    app()
