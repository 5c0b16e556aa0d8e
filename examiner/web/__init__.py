"""`examiner serve`: practice and teacher review as a local web app.

Server-rendered pages (FastAPI, jinja2 with autoescaping, plain HTML forms
and one static script for keyboard shortcuts), on the same results store
and practice history as the command line. The package needs the `web`
extra (`pip install 'examiner[web]'`); importing it does not, so that the
command line can say so in one line:

- `config`: what to serve, and the security choices that follow from the host.
- `security`: headers (a strict Content-Security-Policy), CSRF tokens, the teacher token.
- `decks`: the rubrics served and their graders (one model load, grading serialised).
- `jobs`: grading an uploaded file in a background thread, resumably.
- `pages`: the template environment and rendering helpers.
- `practice_routes`, `teacher_routes`, `report_routes`: the pages.
- `app`: wiring it together; `server`: running it under uvicorn.
"""

from __future__ import annotations

import importlib.util

from ..errors import MissingExtraError
from .config import ServeConfig, is_loopback

__all__ = ["WEB_EXTRA", "ServeConfig", "check_installed", "is_loopback"]

WEB_EXTRA = "pip install 'examiner[web]'"


def check_installed() -> None:
    """Raise MissingExtraError, naming the extra, unless the web server's packages are there."""
    wanted: dict[str, tuple[str, ...]] = {"fastapi": ("fastapi",), "uvicorn": ("uvicorn",)}
    # python-multipart (form uploads) is imported as python_multipart, or multipart before 0.0.13.
    wanted["python-multipart"] = ("python_multipart", "multipart")
    missing = [
        name
        for name, modules in wanted.items()
        if all(importlib.util.find_spec(m) is None for m in modules)
    ]
    if missing:
        raise MissingExtraError(
            f"examiner serve needs the web extra ({', '.join(missing)} missing): {WEB_EXTRA}"
        )
