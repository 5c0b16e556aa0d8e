"""Headless Chromium as the report tests and `docs/make_screenshots.py` drive it.

Debian's `chromium`, launched through Playwright (no browser is downloaded),
with everything that would reach a network switched off: the reports must
render from their own files alone, in the tests and in the README's pictures.
Plain Python with no pytest, so that the docs script can import it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
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


class Watched:
    """A page, with its console errors, page errors, dialogs and refused requests.

    `allowed`: the URLs the page may load (others are refused and listed).
    """

    def __init__(
        self,
        browser: Any,
        width: int = 1280,
        height: int = 900,
        allowed: Callable[[str], bool] = is_local,
    ) -> None:
        self.allowed = allowed
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.refused: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.context.route("**/*", self._guard)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _guard(self, route: Any) -> None:
        url = route.request.url
        if self.allowed(url):
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()

    def open(self, path: Path) -> Any:
        self.page.goto(path.as_uri(), wait_until="load")
        return self.page

    def close(self) -> None:
        self.context.close()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` under a real uvicorn server on 127.0.0.1 (a free port), in a thread; yields its URL.

    For the web app's browser tests and `scripts/web_screenshots.py`.
    """
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
