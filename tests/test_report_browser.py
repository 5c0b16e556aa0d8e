"""The class report and a student page in a real browser (headless Chromium).

Debian's `chromium` (installed by `.ci/run`) driven by Playwright's Python
package: no browser is downloaded. Every request the pages make is routed
through a guard that refuses anything but `file:` and `data:` URLs, so the
test also proves the reports need no network. Screenshots go to the `artifacts`
directory (conftest: $EXAMINER_TEST_ARTIFACTS, else under pytest's temporary
paths; the run's summary names it).
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from examiner.batch import run_batch
from examiner.reports import load_report_data, write_reports
from examiner.rubric import load_rubric
from examiner.scoring.grader import Grader
from examiner.store import Store
from tests.browser import Watched, launch
from tests.conftest import CNN_RUBRIC, EXAMPLE_CLASS

CHROMIUM = Path(os.environ.get("EXAMINER_CHROMIUM", "/usr/bin/chromium"))
SCRIPT = "<script>alert(1)</script>"

if not CHROMIUM.is_file():
    pytest.skip(
        f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example class plus one student who tries to inject a script."""
    root = tmp_path_factory.mktemp("browser")
    answers = root / "answers.csv"
    shutil.copyfile(EXAMPLE_CLASS, answers)
    with answers.open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerow(["zed", "1", f"It is the loss. {SCRIPT}"])
    with Store.open(root / "class.db") as store:
        run_batch(store, Grader(load_rubric(CNN_RUBRIC), scorer="lexical"), CNN_RUBRIC, answers)
    data = load_report_data(root / "class.db")
    write_reports(data, root / "reports", ("html",))
    return root / "reports"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = launch(playwright, str(CHROMIUM))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    page = Watched(browser)
    yield page
    page.close()


def test_the_class_report_renders_cleanly(reports: Path, watched: Watched, artifacts: Path) -> None:
    page = watched.open(reports / "class-report.html")
    assert page.title().startswith("Class report")
    assert page.locator("svg.plot").count() == 4
    for name in ("students", "scores", "cards", "heatmap"):
        box = page.locator(f"svg.plot-{name}").bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100, name
    page.screenshot(path=artifacts / "class-report.png", full_page=True)
    assert watched.errors == []
    assert watched.refused == []
    assert watched.dialogs == []


def test_tables_sort_without_a_library(reports: Path, watched: Watched) -> None:
    page = watched.open(reports / "class-report.html")
    column = "#student-table tbody tr td:nth-child(3)"

    def percents() -> list[float]:
        return [float(t) for t in page.locator(column).all_inner_texts()]

    header = page.locator("#student-table thead th").nth(2)
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert percents() == sorted(percents())
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert percents() == sorted(percents(), reverse=True)
    assert watched.errors == []


def test_an_injected_script_is_shown_as_text(
    reports: Path, watched: Watched, artifacts: Path
) -> None:
    page = watched.open(reports / "students" / "zed.html")
    assert SCRIPT in page.locator("blockquote.answer").first.inner_text()
    assert page.locator("main script").count() == 0
    page.screenshot(path=artifacts / "student-report.png", full_page=True)
    assert watched.dialogs == [] and watched.errors == [] and watched.refused == []


def test_readable_on_a_phone(reports: Path, browser: Any, artifacts: Path) -> None:
    phone = Watched(browser, width=390, height=844)
    try:
        for path in (reports / "class-report.html", reports / "students" / "ana.html"):
            page = phone.open(path)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"{path.name} scrolls sideways on a phone by {overflow}px"
        page.screenshot(path=artifacts / "student-report-phone.png", full_page=False)
        assert phone.errors == [] and phone.refused == []
    finally:
        phone.close()


def test_printable(reports: Path, watched: Watched) -> None:
    page = watched.open(reports / "class-report.html")
    page.emulate_media(media="print")
    assert not page.locator("nav.toc").is_visible()
    assert page.locator("svg.plot").first.is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
