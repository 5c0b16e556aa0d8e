"""Make the README's two `examiner serve` screenshots with the commands the README documents.

    .venv/bin/python scripts/web_screenshots.py [OUT_DIR]     # default: docs/screenshots

Grades the example class into a fresh database, starts the web app on it on
a free loopback port, exactly as the README says:

    examiner grade rubrics/cnn-lesson3.yaml examples/class-submissions.csv --db DIR/examiner.db
    examiner serve --rubric rubrics/cnn-lesson3.yaml --db DIR/examiner.db --history DIR/history.db

then, in headless Chromium (Debian's `chromium` driven by Playwright, no browser
downloaded, nothing loaded but the server itself), practises one card and
opens the first flagged grade of the review queue. Writes web-practice.png
and web-review.png.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = "rubrics/cnn-lesson3.yaml"
sys.path.insert(0, str(ROOT))
from tests.browser import launch  # noqa: E402

# A student's partly right answer: the feedback shows covered, partial and missing points.
ANSWER = "Cross-entropy is the loss we minimise; it compares the predicted probabilities ŷ with y."


def examiner(*args: str) -> None:
    print("$ examiner", " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "examiner", *args], cwd=ROOT, check=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("examiner serve exited before it answered")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"examiner serve did not answer at {url}")


def photograph(base: str, out: Path, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    def only_the_server(route: Any) -> None:
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        context = browser.new_context(viewport={"width": 1000, "height": 1100})
        context.route("**/*", only_the_server)
        page = context.new_page()
        page.goto(base + "/")
        page.fill("#student", "ana")
        page.click("button[type=submit]")
        page.wait_for_url("**/practice/**")
        page.fill("#answer", ANSWER)
        page.wait_for_load_state("load")  # app.js (deferred) reads the keys from here on
        page.keyboard.press("Control+Enter")
        page.wait_for_selector("form.rate", timeout=120_000)  # the model loads behind this page
        page.screenshot(path=out / "web-practice.png", full_page=True)
        page.goto(base + "/teacher/review")
        page.click("text=Start")
        page.wait_for_selector("#decide-form")
        page.fill("#author", "Ms Lee")
        page.fill("#note", "Right about the direction; the update step is missing.")
        page.fill("#score", "0.6")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=out / "web-review.png", full_page=False)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument(
        "--chromium", default=os.environ.get("EXAMINER_CHROMIUM", "/usr/bin/chromium")
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db, history = Path(tmp) / "examiner.db", Path(tmp) / "history.db"
        examiner("grade", RUBRIC, "examples/class-submissions.csv", "--db", str(db))
        port = free_port()
        command = ["serve", "--rubric", RUBRIC, "--db", str(db), "--history", str(history)]
        command += ["--port", str(port)]
        print("$ examiner", " ".join(command), flush=True)
        env = os.environ | {"EXAMINER_HOME": tmp}
        server = subprocess.Popen([sys.executable, "-m", "examiner", *command], cwd=ROOT, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base + "/", server)
            photograph(base, args.out, args.chromium)
        finally:
            server.terminate()
            server.wait(timeout=20)
    for name in ("web-practice.png", "web-review.png"):
        path = args.out / name
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
