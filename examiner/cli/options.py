"""Options that several commands share, declared once so they read the same everywhere."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ..config import JudgeSettings
    from ..models import Rubric
    from ..scoring.calibration import Calibration
    from ..scoring.examples import GradedExample
    from ..scoring.grader import Grader
    from ..store import Store

__all__ = [
    "ApiKeyOpt",
    "BaseUrlOpt",
    "CalibrationOpt",
    "CheckerOpt",
    "DbOption",
    "ExamplesOpt",
    "ForceOpt",
    "JudgeModelOpt",
    "JudgeOpt",
    "ModelOpt",
    "ReviewExamplesOpt",
    "RubricArg",
    "RunOption",
    "ScorerOpt",
    "ThreadsOpt",
    "check_scorer",
    "make_grader",
    "open_db",
    "read_answer",
]

RubricArg = Annotated[Path, typer.Argument(help="Rubric YAML file.")]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        help="Embedding model: the packaged all-MiniLM-L6-v2 (default, through ONNX Runtime) "
        "or any sentence-transformers model name or path (needs `examiner\\[torch]`)."
    ),
]
CheckerOpt = Annotated[
    bool,
    typer.Option(
        "--checker/--no-checker",
        help="Ask the packaged answer checker where the embedding stage is unsure of a "
        "statement (on by default; off is faster and less exact).",
    ),
]
ExamplesOpt = Annotated[
    Path | None,
    typer.Option(
        "--examples",
        help="Teacher-graded answers (CSV/JSONL, as for evaluate): a new answer close to "
        "graded ones is pulled toward their grade.",
    ),
]
ReviewExamplesOpt = Annotated[
    bool,
    typer.Option(
        "--examples-from-reviews",
        help="Also use the teachers' reviews in the database (overrides, and grades they "
        "accepted, of earlier runs on this rubric) as graded examples.",
    ),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        "--threads",
        min=1,
        help="Texts the embedding model encodes at once, one core each "
        "(default: $EXAMINER_THREADS or every core).",
    ),
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


def make_grader(
    rubric: Rubric,
    *,
    scorer: str,
    model: str | None = None,
    calibration: Path | Calibration | None = None,
    judge: JudgeSettings | None = None,
    notice: Callable[[str], None] | None = None,
    threads: int | None = None,
    checker: bool = True,
    examples: Path | None = None,
    reviewed: Sequence[GradedExample] = (),
) -> Grader:
    """The Grader the scorer options describe; notices go to stderr unless `notice` is given."""
    from ..scoring.calibration import load_calibration
    from ..scoring.grader import Grader
    from ._app import err, escape

    check_scorer(scorer)
    if isinstance(calibration, Path):
        calibration = load_calibration(calibration)

    def to_stderr(msg: str) -> None:
        err.print(f"[yellow]notice:[/] {escape(msg)}")

    bank = None
    if examples is not None:
        from ..formats.labelled import iter_graded
        from ..scoring.examples import ExampleBank

        bank, problems = ExampleBank.from_graded(iter_graded(examples), rubric, str(examples))
        for problem in problems[:20]:
            err.print(f"[red]skipped example[/] {escape(str(problem))}")
    if reviewed:
        from ..scoring.examples import ExampleBank

        bank = (bank or ExampleBank(())).with_examples(reviewed)

    return Grader(
        rubric,
        scorer=scorer,  # type: ignore[arg-type]
        model=model,
        calibration=calibration,
        notice=notice or to_stderr,
        judge=judge,
        threads=threads,
        checker=checker,
        examples=bank,
    )


# The results database and a run in it, for the commands that read a class store.
DbOption = Annotated[
    Path, typer.Option("--db", help="The results database (default: examiner.db here).")
]
RunOption = Annotated[
    int | None,
    typer.Option(
        "--run",
        help="Only this run (ids: `examiner runs`); default: the latest grade of each answer "
        "across the runs of the latest run's rubric.",
    ),
]


def open_db(db: Path) -> Store:
    """An existing results database: the store's commands never create one."""
    from ..store import Store

    return Store.open(db, create=False)


def read_answer(answer: str | None) -> str:
    """The answer given, else stdin (with a prompt when it is a terminal)."""
    from ._app import err

    if answer is None:
        if sys.stdin.isatty():
            err.print("Type the answer, then Ctrl-D:")
        answer = sys.stdin.read()
    return answer
