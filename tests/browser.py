"""Headless Chromium as the report tests and `docs/make_screenshots.py` drive it.

Debian's `chromium`, launched through Playwright (no browser is downloaded),
with everything that would reach a network switched off: the reports must
render from their own files alone, in the tests and in the README's pictures.
Plain Python with no pytest, so that the docs script can import it too.
"""

from __future__ import annotations

from typing import Any

LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Any, executable: str) -> Any:
    """The browser at `executable`, headless and quiet on the network."""
    return playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)


def is_local(url: str) -> bool:
    """Whether a page may load `url`: only its own files and inline data."""
    return url.startswith(("file:", "data:"))
