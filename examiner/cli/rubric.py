"""`examiner rubric build` and `examiner rubric check`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ExaminerError, InputError
from ._app import err, escape, out, reports_errors, rubric_app
from .options import ApiKeyOpt, BaseUrlOpt, ForceOpt, JudgeModelOpt


@rubric_app.command("build")
@reports_errors
def rubric_build(
    deck: Annotated[Path, typer.Argument(help="Deck: .txt lesson, .md, .csv/.tsv, .json/.jsonl.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Rubric YAML to write (default: stdout).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Title of the rubric.")] = None,
    force: ForceOpt = False,
    llm: Annotated[
        bool,
        typer.Option(
            "--llm",
            help="Ask the judge model for key points and likely misconceptions per card "
            "(sends each card's question and reference answer to it).",
            rich_help_panel="LLM judge",
        ),
    ] = False,
    judge_model: JudgeModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    concurrency: Annotated[
        int, typer.Option(help="Requests in flight at once.", rich_help_panel="LLM judge")
    ] = 8,
) -> None:
    """Draft a rubric (key points per card) from a deck, for a teacher to edit."""
    from ..formats.decks import load_deck
    from ..rubric import build_rubric, rubric_to_yaml, save_rubric

    if output is not None and output.exists() and not force:
        raise ExaminerError(f"{output} exists: pass --force to overwrite it")
    loaded = load_deck(deck)
    if llm:
        from ..config import judge_settings
        from ..judge.drafting import draft_rubric

        settings = judge_settings(
            mode="always",
            model=judge_model,
            base_url=base_url,
            api_key=api_key,
            concurrency=concurrency,
        )
        with err.status(
            f"drafting {len(loaded.cards)} cards with {escape(settings.model or 'the model')}…"
        ):
            drafted = draft_rubric(
                loaded,
                settings,
                title=title,
                notice=lambda msg: err.print(f"[yellow]notice:[/] {escape(msg)}"),
            )
        rubric = drafted.rubric
        err.print(
            f"drafted with {escape(settings.model or '?')}: tokens {drafted.tokens_in:,} in / "
            f"{drafted.tokens_out:,} out"
            + (
                f"; rule-based draft for {len(drafted.fallbacks)} cards"
                if drafted.fallbacks
                else ""
            )
        )
    else:
        rubric = build_rubric(loaded, title=title)
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
