"""`examiner rubric build` and `examiner rubric check`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ExaminerError, InputError
from ._app import err, out, reports_errors, rubric_app


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
    from ..decks import load_deck
    from ..rubric import build_rubric, rubric_to_yaml, save_rubric

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
    from ..rubric import check_rubric, load_rubric

    problems = check_rubric(rubric)
    if problems:
        raise InputError(problems)
    loaded = load_rubric(rubric)
    points = sum(len(c.key_points) for c in loaded.cards)
    wrong = sum(len(c.misconceptions) for c in loaded.cards)
    out.print(
        f"{rubric}: valid — {len(loaded.cards)} cards, {points} key points, {wrong} misconceptions"
    )
