"""The teachers' reviews teach the next run: `grade --examples-from-reviews`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from examiner.batch import run_batch
from examiner.cli import app
from examiner.rubric import load_rubric
from examiner.scoring.grader import Grader
from examiner.store import Store, find_answer, override_grade, reviewed_examples
from tests.conftest import CNN_RUBRIC, EXAMPLE_CLASS

runner = CliRunner()


def run(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def graded_into(db: Path, rubric: Path) -> None:
    with Store.open(db) as store:
        run_batch(store, Grader(load_rubric(rubric), scorer="lexical"), rubric, EXAMPLE_CLASS)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The example class graded (lexical scorer) into a fresh database."""
    path = tmp_path / "class.db"
    graded_into(path, CNN_RUBRIC)
    return path


def answer_of(store: Store, student: str, card: str) -> str:
    row = store.fetch(
        "SELECT answer FROM submissions WHERE student_id = ? AND card_id = ?", (student, card)
    )
    return str(row[0]["answer"])


def test_overrides_and_accepts_become_graded_examples(db: Path) -> None:
    rubric = load_rubric(CNN_RUBRIC)
    with Store.open(db) as store:
        assert reviewed_examples(store, rubric) == []
        override_grade(store, "ana", "stop-training", 0.2, "first look")
        override_grade(store, "ana", "stop-training", 0.6, "second look")  # the latest counts
        accepted = find_answer(store, "ben", "cross-entropy")
        store.add_review(accepted, "accept")
        found = {(e.card_id, e.answer): e.score for e in reviewed_examples(store, rubric)}
        assert found == {
            ("stop-training", answer_of(store, "ana", "stop-training")): 0.6,
            ("cross-entropy", answer_of(store, "ben", "cross-entropy")): accepted.grade.score,
        }


def test_reviews_of_another_rubric_teach_nothing(db: Path, tmp_path: Path) -> None:
    with Store.open(db) as store:
        override_grade(store, "ana", "stop-training", 0.6, "")
    # The same file, edited since: its cards still learn from the reviews.
    edited = tmp_path / "edited.yaml"
    data = yaml.safe_load(CNN_RUBRIC.read_text(encoding="utf-8"))
    data["title"] = "Lesson 3, revised"
    edited.write_text(yaml.safe_dump(data), encoding="utf-8")
    with Store.open(db) as store:
        assert reviewed_examples(store, load_rubric(edited)) == []  # another deck's reviews
        assert len(reviewed_examples(store, load_rubric(edited), CNN_RUBRIC)) == 1
        assert len(reviewed_examples(store, load_rubric(CNN_RUBRIC))) == 1
        # A card the edited deck no longer has takes no example with it.
        data["cards"] = [c for c in data["cards"] if c.get("id") != "stop-training"]
        edited.write_text(yaml.safe_dump(data), encoding="utf-8")
        assert reviewed_examples(store, load_rubric(edited), CNN_RUBRIC) == []


@pytest.mark.model
def test_grade_pulls_an_answer_the_teacher_overrode_to_the_teachers_grade(db: Path) -> None:
    with Store.open(db) as store:
        answer = answer_of(store, "ana", "stop-training")
    one = ["grade", CNN_RUBRIC, "--card", "stop-training", "--answer", answer, "--json"]
    plain = run(*one)
    assert plain.exit_code == 0, plain.output
    before = json.loads(plain.stdout)["score"]
    teacher = 0.0 if before > 0.5 else 1.0
    assert (
        run("review", "--db", db, "--set", "ana", "stop-training", teacher, "--note", "n").exit_code
        == 0
    )

    pulled = run(*one, "--db", db, "--examples-from-reviews")
    assert pulled.exit_code == 0, pulled.output
    assert "1 reviewed answer(s) in" in pulled.stderr
    grade = json.loads(pulled.stdout)
    assert grade["score"] == pytest.approx(teacher, abs=0.01)
    assert any(note.startswith("graded_examples") for note in grade["notes"])


def test_examples_from_reviews_needs_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    result = run(
        "grade", CNN_RUBRIC, "--card", "1", "--answer", "x", "--scorer", "lexical",
        "--db", missing, "--examples-from-reviews",
    )  # fmt: skip
    assert result.exit_code == 1
    assert str(missing) in result.output
    assert not missing.exists()  # asking for reviews never creates a database
