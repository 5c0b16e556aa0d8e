"""Resumable, idempotent class runs into the store (issue 5).

The lexical scorer is used throughout: these tests are about the store and the
run logic, and the lexical scorer is deterministic and needs no model.
"""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from examiner.batch import RunSummary, run_batch
from examiner.cli import app
from examiner.errors import Problem, SubmissionsError
from examiner.models import Grade, Rubric, Submission
from examiner.rubric import load_rubric
from examiner.scoring.grader import Grader
from examiner.store import Store, StoreError, latest_grades, latest_records
from tests.conftest import CNN_RUBRIC


@pytest.fixture(scope="module")
def rubric() -> Rubric:
    return load_rubric(CNN_RUBRIC)


def lexical(rubric: Rubric, batch_size: int = 256) -> Grader:
    return Grader(rubric, scorer="lexical", batch_size=batch_size)


def class_rows(rubric: Rubric, students: int) -> list[dict[str, str]]:
    """A class answering every card: answers built from the rubric's own phrasings.

    Varied enough to spread over the labels, with repeats (identical answers to
    the same card by different students) and some empty answers.
    """
    rows = []
    for s in range(students):
        for c, card in enumerate(rubric.cards):
            pick = (s * 7 + c * 3) % 5
            phrasings = [p for kp in card.key_points for p in kp.phrasings]
            parts = phrasings[pick : pick + 1 + (s + c) % 3]
            if (s + c) % 17 == 0:
                parts = []
            elif (s + c) % 11 == 0:
                parts = [*parts, card.misconceptions[0].text] if card.misconceptions else parts
            rows.append({"student_id": f"s{s:04d}", "card": card.id, "answer": " ".join(parts)})
    return rows


def write_csv(path: Path, rows: Iterable[dict[str, str]], bad_after: int | None = None) -> Path:
    """Rows as CSV; `bad_after` puts a malformed line (too few cells) after that many rows."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "card", "answer"])
        for i, row in enumerate(rows):
            if i == bad_after:
                handle.write("broken-row,only-two-cells\n")
            writer.writerow([row["student_id"], row["card"], row["answer"]])
    return path


def grades_by_key(grades: Iterable[Grade]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(g.student_id, g.card_id, g.answer_id or ""): g.model_dump() for g in grades}


def count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db, timeout=5)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


# --- kill and resume -----------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys, time
    from examiner.batch import run_batch
    from examiner.scoring.grader import Grader
    from examiner.rubric import load_rubric
    from examiner.store import Store

    db, rubric_path, subs = sys.argv[1:4]
    grader = Grader(load_rubric(rubric_path), scorer="lexical", batch_size=16)
    with Store.open(db) as store:
        # A slow consumer, so that the parent can kill the run part-way.
        run_batch(store, grader, rubric_path, subs, commit_every=8,
                  on_progress=lambda n: time.sleep(0.003))
    print("finished")
    """
)


def test_a_killed_run_resumes_and_grades_every_answer_exactly_once(
    tmp_path: Path, rubric: Rubric
) -> None:
    rows = class_rows(rubric, 134)  # 2010 answers
    subs = write_csv(tmp_path / "class.csv", rows)
    db = tmp_path / "killed.db"
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    child = subprocess.Popen(
        [sys.executable, str(script), str(db), str(CNN_RUBRIC), str(subs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        stored = 0
        while stored < 200:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child stored nothing"
            time.sleep(0.02)
            if db.exists():
                try:
                    stored = count(db, "SELECT count(*) FROM grades")
                except sqlite3.OperationalError:  # tables not created yet
                    stored = 0
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    before = count(db, "SELECT count(*) FROM grades")
    assert 200 <= before < len(rows), "the run was not interrupted part-way"

    with Store.open(db) as store:
        (run,) = store.runs()
        assert run.status == "running" and run.shown_status == "stopped"
        summary = run_batch(store, lexical(rubric), CNN_RUBRIC, subs)
        assert not summary.new_run and summary.run_id == run.id
        assert summary.skipped == before
        assert summary.graded == len(rows) - before
        assert summary.stats.answers == len(rows)
        resumed = grades_by_key(latest_grades(store))

    # Every answer exactly once, and the same grades as a run never interrupted.
    assert count(db, "SELECT count(*) FROM grades") == len(rows)
    assert count(
        db, "SELECT count(*) FROM (SELECT DISTINCT student_id, card_id, answer_id FROM grades)"
    ) == len(rows)
    assert count(db, "SELECT count(*) FROM runs") == 1
    with Store.open(tmp_path / "fresh.db") as fresh:
        summary = run_batch(fresh, lexical(rubric), CNN_RUBRIC, subs)
        assert summary.graded == len(rows)
        assert resumed == grades_by_key(latest_grades(fresh))


class Interrupting:
    """A grader that is interrupted (as by Ctrl-C) after `after` grades."""

    def __init__(self, grader: Grader, after: int) -> None:
        self.rubric = grader.rubric
        self.scorer = grader.scorer
        self.judge_settings = grader.judge_settings
        self._grader = grader
        self._after = after

    def grade_many(
        self,
        items: Iterable[Submission | Problem],
        *,
        source: str = "<submissions>",
        engine: Any = None,
    ) -> Iterator[Grade | Problem]:
        for i, item in enumerate(self._grader.grade_many(items, source=source, engine=engine)):
            if i == self._after:
                raise KeyboardInterrupt
            yield item


def test_ctrl_c_keeps_what_was_graded_and_marks_the_run_interrupted(
    tmp_path: Path, rubric: Rubric
) -> None:
    rows = class_rows(rubric, 10)
    subs = write_csv(tmp_path / "class.csv", rows)
    with Store.open(tmp_path / "x.db") as store:
        with pytest.raises(KeyboardInterrupt):
            run_batch(store, Interrupting(lexical(rubric, 16), 40), CNN_RUBRIC, subs)  # type: ignore[arg-type]
        (run,) = store.runs()
        assert run.status == "interrupted"
        assert store.run_stats(run.id).answers == 40  # the uncommitted batch was flushed
        summary = run_batch(store, lexical(rubric), CNN_RUBRIC, subs)
        assert (summary.skipped, summary.graded, summary.status) == (40, len(rows) - 40, "finished")
        assert store.run(run.id).status == "finished"


def test_a_run_being_written_by_a_live_process_is_not_resumed(
    tmp_path: Path, rubric: Rubric
) -> None:
    subs = write_csv(tmp_path / "class.csv", class_rows(rubric, 2))
    db = tmp_path / "x.db"
    with Store.open(db) as store, pytest.raises(KeyboardInterrupt):
        run_batch(store, Interrupting(lexical(rubric), 3), CNN_RUBRIC, subs)  # type: ignore[arg-type]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        conn = sqlite3.connect(db)
        conn.execute("UPDATE runs SET status = 'running', pid = ?", (other.pid,))
        conn.commit()
        conn.close()
        with Store.open(db) as store, pytest.raises(StoreError, match="being graded right now"):
            run_batch(store, lexical(rubric), CNN_RUBRIC, subs)
    finally:
        other.kill()
        other.wait()
    with Store.open(db) as store:
        assert run_batch(store, lexical(rubric), CNN_RUBRIC, subs).status == "finished"


# --- idempotence and new runs --------------------------------------------------------------


def test_an_unchanged_rerun_grades_nothing(tmp_path: Path, rubric: Rubric) -> None:
    subs = write_csv(tmp_path / "class.csv", class_rows(rubric, 4))
    with Store.open(tmp_path / "x.db") as store:
        first = run_batch(store, lexical(rubric), CNN_RUBRIC, subs)
        assert first.new_run and first.graded == 60 and first.stats.answers == 60
        copy = write_csv(tmp_path / "copy.csv", class_rows(rubric, 4))  # same bytes, other name
        for path in (subs, copy):
            again = run_batch(store, lexical(rubric), CNN_RUBRIC, path)
            assert (again.run_id, again.new_run, again.graded, again.reused) == (1, False, 0, 0)
            assert again.skipped == 60
        assert len(store.runs()) == 1
        assert store.run_stats(1).answers == 60


def test_a_changed_answer_is_graded_in_a_new_run_and_the_rest_reused(
    tmp_path: Path, rubric: Rubric
) -> None:
    rows = class_rows(rubric, 4)
    subs = write_csv(tmp_path / "class.csv", rows)
    with Store.open(tmp_path / "x.db") as store:
        run_batch(store, lexical(rubric), CNN_RUBRIC, subs)
        rows[5]["answer"] = "The pooling layer halves the size of the feature map."
        write_csv(subs, rows)
        second = run_batch(store, lexical(rubric), CNN_RUBRIC, subs)
        assert second.new_run and second.run_id == 2
        assert (second.graded, second.reused, second.stats.answers) == (1, 59, 60)
        assert [r.status for r in store.runs()] == ["finished", "finished"]
        # The old run is kept as it was; the latest grades show the new answer.
        old = {g.answer for g in latest_grades(store, run_id=1)}
        new = {g.answer for g in latest_grades(store)}
        assert rows[5]["answer"] in new and rows[5]["answer"] not in old
        assert len(new) == len(old)


def test_a_changed_rubric_regrades_everything_as_a_new_run(tmp_path: Path, rubric: Rubric) -> None:
    subs = write_csv(tmp_path / "class.csv", class_rows(rubric, 2))
    with Store.open(tmp_path / "x.db") as store:
        run_batch(store, lexical(rubric), CNN_RUBRIC, subs)
        changed = rubric.model_copy(deep=True)
        changed.cards[0].key_points[0].weight = 3.0
        second = run_batch(store, lexical(changed), CNN_RUBRIC, subs)
        assert (second.run_id, second.graded, second.reused) == (2, 30, 0)
        # Grading settings are part of the identity too.
        third = run_batch(store, lexical(changed), CNN_RUBRIC, subs, settings={"judge": "auto"})
        assert (third.run_id, third.graded) == (3, 30)
        # Options are not: another concurrency continues the same run.
        fourth = run_batch(
            store, lexical(changed), CNN_RUBRIC, subs, settings={"judge": "auto"},
            options={"concurrency": 8},
        )  # fmt: skip
        assert (fourth.run_id, fourth.graded) == (3, 0)


def test_an_override_survives_a_rerun_and_is_exported(tmp_path: Path, rubric: Rubric) -> None:
    rows = class_rows(rubric, 3)
    subs = write_csv(tmp_path / "class.csv", rows)
    with Store.open(tmp_path / "x.db") as store:
        run_batch(store, lexical(rubric), CNN_RUBRIC, subs)
        (stored,) = store.find_grades("s0001", "same-conv")
        store.add_review(stored, "override", score=0.95, note="says it differently", author="kim")
        rows[0]["answer"] += " Also, more words."  # another answer changes: a new run
        write_csv(subs, rows)
        assert run_batch(store, lexical(rubric), CNN_RUBRIC, subs).run_id == 2
        exported = {(g.student_id, g.card_id): g for g in latest_grades(store)}
        grade = exported[("s0001", "same-conv")]
        assert grade.score == 0.95 and grade.label == "correct"
        assert grade.notes[-1].startswith("overridden by kim: says it differently (was ")
        assert next(s for s in latest_records(store) if s.grade.student_id == "s0001").run_id == 2


# --- bad rows and streaming ----------------------------------------------------------------


def test_a_malformed_row_in_a_large_file_is_reported_and_the_rest_graded(
    tmp_path: Path, rubric: Rubric
) -> None:
    rows = class_rows(rubric, 100)  # 1500 answers
    subs = write_csv(tmp_path / "class.csv", rows, bad_after=750)
    seen: list[Problem] = []
    done: list[int] = []
    with Store.open(tmp_path / "x.db") as store:
        summary = run_batch(
            store,
            lexical(rubric),
            CNN_RUBRIC,
            subs,
            on_problem=seen.append,
            on_progress=done.append,
        )
        assert summary.problem_count == 1 and summary.problems == seen
        (problem,) = seen
        assert problem.line == 752 and "2 cells" in problem.message
        assert summary.graded == summary.stats.answers == len(rows)
        assert sum(done) == len(rows) + 1
        assert store.problems(summary.run_id) == seen
        assert summary.stats.problems == 1
        # A re-run reports the bad row again (it is still in the file) and grades nothing.
        again: list[Problem] = []
        rerun = run_batch(store, lexical(rubric), CNN_RUBRIC, subs, on_problem=again.append)
        assert (rerun.graded, again) == (0, seen)


def test_a_second_answer_to_the_same_card_is_reported_not_stored(
    tmp_path: Path, rubric: Rubric
) -> None:
    rows = class_rows(rubric, 2)
    rows.append({**rows[3], "answer": "A second try."})
    rows.append(dict(rows[4]))
    subs = write_csv(tmp_path / "class.csv", rows)
    with Store.open(tmp_path / "x.db") as store:
        summary = run_batch(store, lexical(rubric), CNN_RUBRIC, subs)
        assert summary.stats.answers == 30
        assert [p.line for p in summary.problems] == [32, 33]
        assert all("second answer from 's0000'" in p.message for p in summary.problems)
        assert "answer_id" in summary.problems[0].message


def test_an_unreadable_file_creates_no_run(tmp_path: Path, rubric: Rubric) -> None:
    with Store.open(tmp_path / "x.db") as store:
        with pytest.raises(SubmissionsError):
            run_batch(store, lexical(rubric), CNN_RUBRIC, tmp_path / "missing.csv")
        assert store.runs() == []


def test_the_store_can_be_read_while_a_run_writes(tmp_path: Path, rubric: Rubric) -> None:
    subs = write_csv(tmp_path / "class.csv", class_rows(rubric, 20))
    db = tmp_path / "x.db"
    seen: list[int] = []

    def peek(_: int) -> None:
        # What `examiner runs` does from another terminal, mid-run.
        with Store.open(db, create=False) as reader:
            seen.append(reader.run_stats(1).answers)

    with Store.open(db) as store:
        summary: RunSummary = run_batch(
            store, lexical(rubric, 16), CNN_RUBRIC, subs, commit_every=8, on_progress=peek
        )
    assert summary.stats.answers == 300
    assert seen == sorted(seen) and 0 < seen[len(seen) // 2] < 300


def test_a_library_run_resumes_the_run_the_cli_started(tmp_path: Path, rubric: Rubric) -> None:
    rows = class_rows(rubric, 2)
    subs = write_csv(tmp_path / "class.csv", rows)
    db = tmp_path / "x.db"
    result = CliRunner().invoke(
        app, ["grade", str(CNN_RUBRIC), str(subs), "--db", str(db), "--scorer", "lexical"]
    )
    assert result.exit_code == 0, result.output
    with Store.open(db) as store:
        summary = run_batch(store, lexical(rubric), CNN_RUBRIC, subs)
        assert (summary.run_id, summary.new_run, summary.graded) == (1, False, 0)
        assert summary.skipped == len(rows)
