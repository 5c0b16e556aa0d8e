"""The typer app, its consoles, and the one place errors become exit codes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from .. import __version__
from ..errors import ExaminerError, InputError

__all__ = ["FLAGS", "app", "err", "error_message", "escape", "out", "reports_errors", "rubric_app"]

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

# The flag that sets each setting a core error names (`ExaminerError.setting`):
# the library speaks of settings, only the CLI knows its flags.
FLAGS = {
    "db": "--db FILE",
    "answer_id": "--answer-id",
    "judge_mode": "--judge",
    "judge_model": "--judge-model",
    "concurrency": "--concurrency",
    "max_rpm": "--max-rpm",
    "judge_timeout": "--judge-timeout",
    "model": "--model",
    "threads": "--threads",
    "scorer": "--scorer",
    "rubric": "--rubric FILE",
    "format": "--format",
    "calibration": "--calibration FILE",
    "port": "--port",
    "token": "--token",
}


def error_message(exc: ExaminerError) -> str:
    """The error's message, with the flag that fixes it where it names a setting."""
    flag = FLAGS.get(exc.setting or "")
    return f"{exc} ({flag})" if flag else str(exc)


def reports_errors(func: F) -> F:
    """Turn an ExaminerError into its message and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            for problem in exc.problems:
                err.print(f"[red]error:[/] {escape(str(problem))}")
            raise typer.Exit(1) from None
        except ExaminerError as exc:
            err.print(f"[red]error:[/] {escape(error_message(exc))}")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


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
    import os

    from ..config import load_settings

    # The command line is a process of its own, so it may set its environment:
    # no model hub, no download progress bars, no tokenizer threads that warn
    # when a worker forks. A user's own values win.
    for var, value in (
        ("HF_HUB_OFFLINE", "1"),
        ("TRANSFORMERS_OFFLINE", "1"),
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
        ("TOKENIZERS_PARALLELISM", "false"),
    ):
        os.environ.setdefault(var, value)
    load_settings()
