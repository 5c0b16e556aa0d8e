"""Make the README's report screenshots with the commands the README documents.

    .venv/bin/python docs/make_screenshots.py

Grades the example class into a fresh database and writes its reports, exactly
as in the README's "Reports" section, then photographs the class report and one
student's page in headless Chromium (Debian's `chromium`, driven by Playwright;
no browser is downloaded, and the pages may load nothing but their own files):

    examiner grade rubrics/cnn-lesson3.yaml examples/class-submissions.csv --db DIR/examiner.db
    examiner report DIR/examiner.db -o DIR/reports

Writes docs/class-report.png and docs/student-report.png.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# The browser set-up the report tests use: the pictures show what the tests check.
sys.path.insert(0, str(ROOT))
from tests.browser import is_local, launch  # noqa: E402


def examiner(*args: str) -> None:
    """Run the documented command (the installed package, as a user would)."""
    command = [sys.executable, "-m", "examiner", *args]
    print("$ examiner", " ".join(args), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)


def only_local(route: Any) -> None:
    if is_local(route.request.url):
        route.continue_()
    else:
        route.abort()


def shoot(
    browser: Any, page_path: Path, out: Path, width: int, height: int, start: str = ""
) -> None:
    """A `width` × `height` picture of the page from its top, or from element `start`."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.route("**/*", only_local)
    page = context.new_page()
    page.goto(page_path.as_uri(), wait_until="load")
    top = 0.0
    if start:
        box = page.locator(start).bounding_box()
        assert box is not None, f"{start} not found in {page_path.name}"
        top = max(box["y"] - 12, 0)
    clip = {"x": 0, "y": top, "width": width, "height": height}
    page.screenshot(path=out, clip=clip, full_page=True)
    context.close()
    print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size // 1024} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--student", default="dev", help="whose page to photograph")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        db, reports = Path(tmp) / "examiner.db", Path(tmp) / "reports"
        examiner(
            "grade", "rubrics/cnn-lesson3.yaml", "examples/class-submissions.csv", "--db", str(db)
        )
        examiner("report", str(db), "-o", str(reports))
        with sync_playwright() as playwright:
            browser = launch(playwright, args.chromium)
            try:
                shoot(browser, reports / "class-report.html", DOCS / "class-report.png", 1200, 1400)
                student = reports / "students" / f"{args.student}.html"
                # The feedback on two cards (the page opens with a table of all of them).
                shoot(browser, student, DOCS / "student-report.png", 900, 1300, "#card-2")
            finally:
                browser.close()


if __name__ == "__main__":
    main()
