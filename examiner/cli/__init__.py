"""The `examiner` command line. Thin: parse, call the library once, render.

Each command lives in its own module; `_app` holds the typer app and is the
only place an `ExaminerError` becomes an exit code: 0 success, 1 a user error
(one clear message, no traceback), 2 bad usage.
"""

from __future__ import annotations

from . import evaluate, grade, practice, report, review, rubric  # noqa: F401  (registers the commands)
from ._app import app

__all__ = ["app"]
