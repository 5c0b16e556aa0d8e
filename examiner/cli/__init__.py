"""The `examiner` command line. Thin: parse, call the library once, render.

Each command lives in its own module; `_app` holds the typer app and is the
only place an `ExaminerError` becomes an exit code: 0 success, 1 a user error
(one clear message, no traceback), 2 bad usage.
"""

from __future__ import annotations

# Each import registers its commands; `examiner --help` lists them in this order.
from . import evaluate, grade, practice, report, runs, review, export, rubric, serve  # noqa: F401  # isort: skip
from ._app import app

__all__ = ["app"]
