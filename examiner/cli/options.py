"""Options that several commands share, declared once so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "ApiKeyOpt",
    "BaseUrlOpt",
    "CalibrationOpt",
    "ForceOpt",
    "JudgeModelOpt",
    "JudgeOpt",
    "ModelOpt",
    "RubricArg",
    "ScorerOpt",
    "check_scorer",
]

RubricArg = Annotated[Path, typer.Argument(help="Rubric YAML file.")]
ModelOpt = Annotated[
    str | None,
    typer.Option(help="Sentence-transformers model name or path (default: all-MiniLM-L6-v2)."),
]
CalibrationOpt = Annotated[
    Path | None,
    typer.Option(
        help="Calibration JSON fitted by `examiner calibrate` (default: the shipped one)."
    ),
]
ScorerOpt = Annotated[
    str, typer.Option(help="auto (embedding, lexical if no model), embedding or lexical.")
]
ForceOpt = Annotated[bool, typer.Option(help="Overwrite an existing file.")]
JudgeOpt = Annotated[
    str | None,
    typer.Option(
        "--judge",
        help="LLM judge: off, auto (only answers the embedding stage is unsure of or "
        "flagged) or always. Default: auto if a judge model is configured, else off.",
        rich_help_panel="LLM judge",
    ),
]
JudgeModelOpt = Annotated[
    str | None,
    typer.Option(help="Judge model (default: EXAMINER_JUDGE_MODEL).", rich_help_panel="LLM judge"),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        help="OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1 "
        "(default: OPENAI_BASE_URL, else OpenAI).",
        rich_help_panel="LLM judge",
    ),
]
ApiKeyOpt = Annotated[
    str | None,
    typer.Option(
        help="API key (default: OPENAI_API_KEY). Prefer the environment or .env: a flag "
        "shows in the process list.",
        rich_help_panel="LLM judge",
        show_default=False,
    ),
]


def check_scorer(scorer: str) -> None:
    if scorer not in ("auto", "embedding", "lexical"):
        raise typer.BadParameter("use auto, embedding or lexical", param_hint="--scorer")
