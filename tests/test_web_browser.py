"""`examiner serve` in a real browser: Debian's chromium (Playwright) against a real uvicorn.

The two main flows, from the keyboard where the pages offer keys: a student
practises two cards; a teacher overrides one flagged grade. Each page must log
no console error, open no dialog (a hostile answer in the class must stay
text) and request nothing but the server itself. Screenshots go to the
`artifacts` directory (conftest).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)

from examiner.practice import PracticeHistory, rubric_key  # noqa: E402
from examiner.rubric import load_rubric  # noqa: E402
from examiner.store import Store, latest_records  # noqa: E402
from examiner.web.app import create_app  # noqa: E402
from examiner.web.config import ServeConfig  # noqa: E402
from tests.browser import Watched, launch, serving  # noqa: E402
from tests.conftest import CNN_RUBRIC  # noqa: E402
from tests.test_web import HOSTILE_ANSWER, graded_class, lexical, make_config  # noqa: E402

CHROMIUM = Path(os.environ.get("EXAMINER_CHROMIUM", "/usr/bin/chromium"))

if not CHROMIUM.is_file():
    pytest.skip(
        f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = launch(playwright, str(CHROMIUM))
        try:
            yield launched
        finally:
            launched.close()


class Tab(Watched):
    """A page of one browser context that may load nothing but the server at `base`."""

    def __init__(self, browser: Any, base: str) -> None:
        super().__init__(
            browser, 1200, 900, allowed=lambda url: url.startswith((base + "/", "data:"))
        )
        self.base = base

    def ready(self) -> None:
        """Wait for the page's load event: app.js is deferred, and reads the keys after it."""
        self.page.wait_for_load_state("load")

    def clean(self) -> bool:
        return self.errors == [] and self.dialogs == [] and self.refused == []


@pytest.fixture
def config(tmp_path: Path) -> ServeConfig:
    graded_class(tmp_path, [["mallory", "1", HOSTILE_ANSWER]])
    return make_config(tmp_path)


@pytest.fixture
def tab(browser: Any, config: ServeConfig) -> Iterator[Tab]:
    with serving(create_app(config, grader_factory=lexical)) as base:
        opened = Tab(browser, base)
        yield opened
        opened.context.close()


def test_a_student_practises_two_cards(tab: Tab, config: ServeConfig, artifacts: Path) -> None:
    page = tab.page
    page.goto(tab.base + "/")
    page.fill("#student", "ana")
    page.click("button[type=submit]")
    page.wait_for_url("**/practice/**")
    assert "0 answers so far" in page.locator(".counts").inner_text().replace("\n", " ")

    page.fill("#answer", "Cross-entropy is the loss we train on: it compares the probabilities.")
    tab.ready()
    page.keyboard.press("Control+Enter")  # app.js sends the form
    page.wait_for_selector("form.rate")
    assert page.locator("table.points tbody tr").count() >= 2
    assert page.locator("blockquote.reference").is_visible()
    page.screenshot(path=artifacts / "web-practice-feedback.png", full_page=True)
    suggested = page.locator("button.rating.suggested").get_attribute("value")
    tab.ready()
    page.keyboard.press("Enter")  # the suggested rating has the focus
    page.wait_for_selector(".flash")
    assert f"Rated {suggested}" in page.locator(".flash").inner_text()

    page.fill("#answer", "We step against the gradient, because it points uphill.")
    page.click("text=Check my answer")
    page.wait_for_selector("form.rate")
    tab.ready()
    page.locator("body").press("g")  # a key picks a rating
    page.wait_for_selector(".flash")
    assert "Rated good" in page.locator(".flash").inner_text()
    page.screenshot(path=artifacts / "web-practice-next.png", full_page=True)

    rubric = load_rubric(CNN_RUBRIC)
    with PracticeHistory.open("ana", rubric_key(rubric, CNN_RUBRIC), config.history) as history:
        attempts = history.attempts()
    assert [a.rating for a in attempts] == [suggested, "good"]
    assert len({a.card_id for a in attempts}) == 2
    assert tab.clean(), (tab.errors, tab.dialogs, tab.refused)


def test_a_teacher_overrides_a_flagged_grade(
    tab: Tab, config: ServeConfig, artifacts: Path
) -> None:
    page = tab.page
    page.goto(tab.base + "/teacher/review")
    assert page.locator("#review-table tbody tr").count() > 1
    assert HOSTILE_ANSWER in page.locator("#review-table").inner_text()  # as text
    page.keyboard.press("n")  # start the queue
    page.wait_for_selector("#decide-form")
    tab.ready()
    first = page.url
    page.screenshot(path=artifacts / "web-review.png", full_page=True)
    page.keyboard.press("o")  # to the score field
    page.keyboard.type("3/5")
    page.fill("#note", "the second half is right")
    page.focus("#score")
    page.keyboard.press("Enter")  # Enter in the score field overrides
    page.wait_for_selector("#done")
    assert "→ 0.60" in page.locator("#done").inner_text()
    assert page.url != first
    tab.ready()
    page.keyboard.press("a")  # accept the next one
    page.wait_for_selector("#done")
    assert "accepted" in page.locator("#done").inner_text()

    grade_id = int(first.rsplit("/", 1)[1])
    with Store.open(config.db) as store:
        reviews = {s.grade_id: s.review for s in latest_records(store) if s.review}
    assert reviews[grade_id] is not None and reviews[grade_id].score == 0.6
    assert reviews[grade_id].note == "the second half is right"
    assert len(reviews) == 2
    # The teacher's grade is the grade in the reports, served live.
    page.goto(tab.base + "/teacher/reports/latest/class-report.html")
    assert page.title().startswith("Class report")
    assert tab.clean(), (tab.errors, tab.dialogs, tab.refused)


def test_the_hostile_answer_stays_text_in_the_browser(tab: Tab, config: ServeConfig) -> None:
    with Store.open(config.db) as store:
        grade_id = next(
            s.grade_id for s in latest_records(store) if s.grade.student_id == "mallory"
        )
    page = tab.page
    for path in (
        f"/teacher/review/{grade_id}",
        "/teacher/review?all=true",
        "/teacher/reports/latest/students/mallory.html",
        "/teacher/reports/latest/class-report.html",
    ):
        page.goto(tab.base + path)
        assert page.locator("main img[src=x]").count() == 0, path
        assert page.locator("main script").count() == 0, path
    page.goto(f"{tab.base}/teacher/review/{grade_id}")
    assert HOSTILE_ANSWER in page.locator("#answer").inner_text()
    assert tab.clean(), (tab.errors, tab.dialogs, tab.refused)
