"""`examiner serve`'s teacher pages: uploads, the review queue, reports; escaping; the CLI.

Through FastAPI's TestClient, grading with the lexical scorer (no model).
"""

from __future__ import annotations

import csv
import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")

from fastapi.testclient import TestClient

from examiner.batch import run_batch
from examiner.models import Grade, Rubric, RubricCard, Submission
from examiner.rubric import load_rubric
from examiner.scoring import LexicalScorer
from examiner.scoring.grader import Grader
from examiner.store import Store, latest_grades, latest_records
from examiner.web.config import ServeConfig
from tests.conftest import CNN_RUBRIC, EXAMPLE_CLASS
from tests.test_web import (
    HOSTILE,
    HOSTILE_ANSWER,
    answer_card,
    client_for,
    csrf_of,
    graded_class,
    make_config,
)


@pytest.fixture
def config(tmp_path: Path) -> ServeConfig:
    return make_config(tmp_path)


def upload(client: TestClient, name: str, content: bytes, deck: str | None = None) -> Any:
    home = client.get("/teacher").text
    slug = deck or next(iter(client.app.state.decks)).slug  # type: ignore[attr-defined]
    return client.post(
        "/teacher/upload",
        data={"csrf": csrf_of(home), "deck": slug},
        files={"file": (name, content)},
    )


def wait_for_job(client: TestClient, location: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = client.get(location).text
        if 'id="job-done"' in page or 'id="job-error"' in page:
            return page
        assert 'http-equiv="refresh"' in page  # the progress page refreshes while grading
        time.sleep(0.1)
    raise AssertionError("the grading job did not finish")


def flagged_ids(client: TestClient, query: str = "") -> list[int]:
    page = client.get(f"/teacher/review{query}").text
    return [int(i) for i in re.findall(r'<td class="num"><a href="/teacher/review/(\d+)">', page)]


# --- uploads ---------------------------------------------------------------------------------


def test_an_upload_with_bad_rows_lists_them_and_grades_the_rest(config: ServeConfig) -> None:
    content = EXAMPLE_CLASS.read_bytes() + b"zed,99,an answer to no card\n,1,no student\n"
    with client_for(config) as c:
        started = upload(c, "week 3.csv", content)
        assert started.status_code == 303 and started.headers["location"].startswith(
            "/teacher/jobs/"
        )
        page = wait_for_job(c, started.headers["location"])
        assert "Run 1: new" in page
        problems = re.findall(r"<li>(week_3\.csv:\d+ \[\w+\]: [^<]+)</li>", page)
        assert len(problems) == 2, page
        assert "week_3.csv:118 [card]: unknown card" in problems[0]
        assert "/" not in problems[0].split(":")[0]  # the file's name, not the server's path
        with Store.open(config.db) as store:
            assert len(list(latest_grades(store))) == 90  # every good row graded
            assert len(store.problems(1)) == 2
        # The same bytes again: the run is found complete, nothing is graded twice.
        again = wait_for_job(c, upload(c, "week 3.csv", content).headers["location"])
        assert "already complete, nothing graded again" in again
        runs = c.get("/teacher").text
        assert "week_3.csv" in runs and 'id="runs-table"' in runs


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("answers.txt", b"a,b\n", "unsupported file type &#39;.txt&#39;"),
        ("answers.csv", b"", "file is empty"),
        ("answers.csv", b"student_id,answer\nana,hello\n", "answers.csv"),
    ],
)
def test_an_unreadable_upload_says_why(
    config: ServeConfig, name: str, content: bytes, message: str
) -> None:
    with client_for(config) as c:
        reply = upload(c, name, content)
        assert reply.status_code == 400
        assert message in reply.text
        assert 'class="errors"' in reply.text


def test_an_upload_form_without_a_file_or_deck_is_refused(config: ServeConfig) -> None:
    with client_for(config) as c:
        token = csrf_of(c.get("/teacher").text)
        reply = c.post("/teacher/upload", data={"csrf": token, "deck": "nope"})
        assert reply.status_code == 400
        assert "Choose the deck" in reply.text and "Choose a submissions file" in reply.text


class SlowLexical(LexicalScorer):
    """The lexical scorer, slowed down: a run that takes long enough to be used meanwhile."""

    def score_batch(self, items: Sequence[tuple[RubricCard, Submission]]) -> list[Grade]:
        time.sleep(0.4)
        return super().score_batch(items)


def slow(rubric: Rubric, notice: Callable[[str], None]) -> Grader:
    return Grader(rubric, scorer=SlowLexical(), notice=notice)


def test_reviewing_while_a_run_grades_loses_nothing(tmp_path: Path, config: ServeConfig) -> None:
    graded_class(tmp_path)  # run 1, flagged grades to review
    # Every answer changed a little: the whole file is graded again, slowly.
    changed = tmp_path / "changed.csv"
    with EXAMPLE_CLASS.open(encoding="utf-8") as src, changed.open("w", encoding="utf-8") as dst:
        rows = list(csv.reader(src))
        csv.writer(dst).writerows([rows[0], *([s, c, a + " Indeed."] for s, c, a in rows[1:])])
    with client_for(config, slow) as c:
        todo = flagged_ids(c)[:6]
        assert len(todo) == 6
        started = upload(c, "changed.csv", changed.read_bytes())
        job = c.app.state.jobs.all()[-1]  # type: ignore[attr-defined]
        for grade_id in todo:
            page = c.get(f"/teacher/review/{grade_id}").text
            done = c.post(
                f"/teacher/review/{grade_id}",
                data={"csrf": csrf_of(page), "action": "override", "score": "60%"}
                | {"note": "checked by hand", "author": "teacher"},
            )
            assert done.status_code == 303
        assert job.state == "grading", "the run finished before the reviews: make it slower"
        wait_for_job(c, started.headers["location"])
    with Store.open(config.db) as store:
        reviews = store.fetch("SELECT author, score, note FROM reviews")
        assert len(reviews) == 6
        assert {(r["author"], r["score"], r["note"]) for r in reviews} == {
            ("teacher", 0.6, "checked by hand")
        }
        assert {s.grade_id for s in latest_records(store, 2)} and store.run(2).status == "finished"
        assert store.problems(2) == []
        assert len(list(latest_records(store, 2))) == 90


def test_a_stopped_run_resumes_from_the_runs_page(tmp_path: Path, config: ServeConfig) -> None:
    class Interrupted(LexicalScorer):
        calls = 0

        def score_batch(self, items: Sequence[tuple[RubricCard, Submission]]) -> list[Grade]:
            Interrupted.calls += 1
            if Interrupted.calls == 2:
                raise KeyboardInterrupt
            return super().score_batch(items)

    answers = tmp_path / "class.csv"
    answers.write_bytes(EXAMPLE_CLASS.read_bytes())
    with Store.open(config.db) as store, pytest.raises(KeyboardInterrupt):
        grader = Grader(load_rubric(CNN_RUBRIC), scorer=Interrupted(), batch_size=32)
        run_batch(store, grader, CNN_RUBRIC, answers, commit_every=1)
    with client_for(config) as c:
        home = c.get("/teacher").text
        assert "interrupted" in home and "/teacher/runs/1/resume" in home
        resumed = c.post("/teacher/runs/1/resume", data={"csrf": csrf_of(home)})
        assert resumed.status_code == 303
        page = wait_for_job(c, resumed.headers["location"])
        assert "Run 1: resumed (32 answers already stored)" in page
    with Store.open(config.db) as store:
        assert store.run(1).status == "finished" and len(list(latest_records(store, 1))) == 90


# --- review ----------------------------------------------------------------------------------


def test_override_and_accept_write_the_rows_examiner_review_writes(
    tmp_path: Path, config: ServeConfig
) -> None:
    graded_class(tmp_path)
    with client_for(config) as c:
        first, second = flagged_ids(c)[:2]
        page = c.get(f"/teacher/review/{first}").text
        for part in ("The answer", "Rubric", "Reference answer", "key point", "Override"):
            assert part in page
        token = csrf_of(page)
        no_reason = c.post(
            f"/teacher/review/{first}",
            data={"csrf": token, "action": "override", "score": "0.7", "note": ""},
        )
        assert no_reason.status_code == 400 and "needs its reason" in no_reason.text
        bad = c.post(
            f"/teacher/review/{first}",
            data={"csrf": token, "action": "override", "score": "7/5", "note": "x"},
        )
        assert bad.status_code == 400 and "outside 0..1" in bad.text
        done = c.post(
            f"/teacher/review/{first}",
            data={"csrf": token, "action": "override", "score": "3/5", "note": "fair enough"}
            | {"author": "ms-lee"},
        )
        assert done.status_code == 303
        assert done.headers["location"].startswith(f"/teacher/review/{second}?done=")
        shown = c.get(done.headers["location"]).text
        assert "→ 0.60 by ms-lee" in shown
        accepted = c.post(
            f"/teacher/review/{second}", data={"csrf": token, "action": "accept", "note": ""}
        )
        assert accepted.status_code == 303
        assert first not in flagged_ids(c) and second not in flagged_ids(c)
        assert first in flagged_ids(c, "?all=true")
    with Store.open(config.db) as store:
        by_id = {s.grade_id: s for s in latest_records(store)}
        assert by_id[first].review is not None and by_id[first].review.score == 0.6
        assert by_id[first].review.note == "fair enough" and by_id[first].review.author == "ms-lee"
        assert by_id[second].review is not None and by_id[second].review.action == "accept"
        exported = {(g.student_id, g.card_id): g for g in latest_grades(store)}
        g = by_id[first].grade
        assert exported[(g.student_id, g.card_id)].score == 0.6


def test_an_unknown_grade_is_a_404(tmp_path: Path, config: ServeConfig) -> None:
    graded_class(tmp_path)
    with client_for(config) as c:
        assert c.get("/teacher/review/99999").status_code == 404
        assert c.get("/teacher/reports/run-77/").status_code == 404
        assert c.get("/teacher/reports/whatever/").status_code == 404


# --- reports ---------------------------------------------------------------------------------


def test_the_reports_and_gradebooks_are_served(tmp_path: Path, config: ServeConfig) -> None:
    graded_class(tmp_path)
    with client_for(config) as c:
        index = c.get("/teacher/reports/latest/")
        assert index.status_code == 200 and 'href="students/ana.html"' in index.text
        assert "script-src 'sha256-" in index.headers["content-security-policy"]
        klass = c.get("/teacher/reports/latest/class-report.html")
        assert klass.status_code == 200 and klass.text.count('class="plot') >= 4
        student = c.get("/teacher/reports/run-1/students/ana.html")
        assert student.status_code == 200 and "Feedback for ana" in student.text
        canvas = c.get("/teacher/reports/latest/gradebook-canvas.csv")
        assert canvas.content.startswith("\ufeffStudent,ID,SIS User ID".encode())
        assert "attachment" in canvas.headers["content-disposition"]
        moodle = c.get("/teacher/reports/latest/gradebook-moodle.csv")
        assert moodle.content.startswith("\ufeffID number,".encode())
        assert c.get("/teacher/reports/latest/answers.csv").status_code == 200
        assert c.get("/teacher/reports/latest/secrets.csv").status_code == 404
        assert c.get("/teacher/reports/latest/students/nobody.html").status_code == 404


# --- escaping ----------------------------------------------------------------------------------


def test_a_hostile_answer_is_escaped_on_every_page_that_shows_answers(
    tmp_path: Path, config: ServeConfig
) -> None:
    graded_class(tmp_path, [["mallory", "1", HOSTILE_ANSWER], ["mallory", "2", HOSTILE[0]]])
    with client_for(config) as c:
        slug = next(iter(c.app.state.decks)).slug  # type: ignore[attr-defined]
        with Store.open(config.db) as store:
            grade_id = next(
                s.grade_id for s in latest_records(store) if s.grade.student_id == "mallory"
            )
        pages = {
            "practice feedback": answer_card(c, slug, "mallory", HOSTILE_ANSWER),
            "review queue": c.get("/teacher/review?all=true").text,
            "review item": c.get(f"/teacher/review/{grade_id}").text,
            "student report": c.get("/teacher/reports/latest/students/mallory.html").text,
            "class report": c.get("/teacher/reports/latest/class-report.html").text,
            "answers.csv": c.get("/teacher/reports/latest/answers.csv").text,
        }
        for name, text in pages.items():
            if name.endswith(".csv"):
                assert HOSTILE_ANSWER in text  # a CSV is data, shown as text by any spreadsheet
                continue
            assert "mallory" in text, name
            for raw in HOSTILE:
                assert raw not in text, f"{name} shows {raw!r} unescaped"
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text or name == "class report", name
            assert "onerror=alert(2)&gt;" in text or name == "class report", name


# --- the model, the command line ---------------------------------------------------------------


def test_the_model_loads_once_and_only_when_practice_starts(config: ServeConfig) -> None:
    made: list[str] = []

    def counting(rubric: Rubric, notice: Callable[[str], None]) -> Grader:
        made.append(rubric.title)
        return Grader(rubric, scorer="lexical")

    with client_for(config, counting) as c:
        slug = next(iter(c.app.state.decks)).slug  # type: ignore[attr-defined]
        c.get("/")
        c.get("/teacher")
        assert made == []  # not at start, not for pages that do not grade
        for student in ("ana", "bo", "cy"):
            answer_card(c, slug, student, "the loss")
        deck = c.app.state.decks.get(slug)  # type: ignore[attr-defined]
        loading = deck._loading
        if loading is not None:
            loading.join(10)
        assert len(made) == 1


def test_a_model_that_cannot_load_is_a_clear_message(config: ServeConfig) -> None:
    from examiner.errors import ModelLoadError

    def broken(rubric: Rubric, notice: Callable[[str], None]) -> Grader:
        raise ModelLoadError("no model at /models/missing: check the path")

    with client_for(config, broken) as c:
        slug = next(iter(c.app.state.decks)).slug  # type: ignore[attr-defined]
        page = c.get(f"/practice/{slug}", params={"student": "ana"})
        assert page.status_code == 200  # the question is shown while the model loads
        reply = c.post(
            f"/practice/{slug}/answer",
            data={"csrf": csrf_of(page.text), "student": "ana", "card": "cross-entropy"}
            | {"hints": "0", "answer": "the loss"},
        )
        assert reply.status_code == 503 and "no model at /models/missing" in reply.text
        again = c.get(f"/practice/{slug}", params={"student": "ana"}).text
        assert "the model could not be loaded" in again


def test_serve_without_the_web_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from typer.testing import CliRunner

    from examiner.cli import app

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a)
    )
    result = CliRunner().invoke(app, ["serve", "--rubric", str(CNN_RUBRIC)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "pip install 'examiner[web]'" in lines[0]


def test_serve_checks_its_options_before_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from examiner.cli import app

    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append((app, kw)))
    runner = CliRunner()
    bad_port = runner.invoke(app, ["serve", "--port", "70000"])
    assert bad_port.exit_code == 1 and "(--port)" in bad_port.output
    short = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--token", "abc"])
    assert short.exit_code == 1 and "(--token)" in short.output
    missing = runner.invoke(app, ["serve", "--rubric", "nope.yaml"])
    assert missing.exit_code == 1 and "nope.yaml" in missing.output
    ok = runner.invoke(app, ["serve", "--rubric", str(CNN_RUBRIC), "--host", "0.0.0.0"])
    assert ok.exit_code == 0, ok.output
    served, options = started[0]
    token = served.state.config.token
    assert token and f"/teacher?token={token}" in ok.output
    assert options["host"] == "0.0.0.0" and options["port"] == 8000
    assert [d.path for d in served.state.decks] == [CNN_RUBRIC]


def test_the_server_prints_where_to_go() -> None:
    from examiner.web.server import start_lines

    open_lines = start_lines(ServeConfig.build([], Path("x.db")), ["Lesson 3"])
    assert open_lines[0].startswith("examiner serve: http://127.0.0.1:8000/")
    assert "no token needed" in open_lines[1]
    assert threading.current_thread() is threading.main_thread()


def test_before_any_grading_the_pages_say_what_to_do(config: ServeConfig) -> None:
    assert not config.db.exists()
    with client_for(config) as c:
        home = c.get("/teacher")
        assert home.status_code == 200 and "No runs yet" in home.text
        assert "Nothing to review left" in c.get("/teacher/review").text
        report = c.get("/teacher/reports/latest/")
        assert report.status_code == 404 and "no such database" in report.text
        assert c.get("/teacher/review/1").status_code == 404
    assert not config.db.exists()  # reading never creates the database
