"""`examiner runs`, `examiner review` and `examiner export` through typer's runner."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from examiner.batch import run_batch
from examiner.cli import app
from examiner.cli import review as review_cli
from examiner.rubric import load_rubric
from examiner.scoring.grader import Grader
from examiner.store import Store, latest_records
from tests.conftest import CNN_RUBRIC, EXAMPLE_CLASS

runner = CliRunner()


def run(*args: object, input: str | None = None) -> Result:
    return runner.invoke(app, [str(a) for a in args], input=input)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The example class graded (lexical scorer) into a fresh database."""
    path = tmp_path / "class.db"
    with Store.open(path) as store:
        grader = Grader(load_rubric(CNN_RUBRIC), scorer="lexical")
        run_batch(store, grader, CNN_RUBRIC, EXAMPLE_CLASS)
    return path


def flagged_count(db: Path) -> int:
    result = run("review", "--db", db, "--limit", "1000")
    assert result.exit_code == 0, result.output
    if "nothing to review" in result.output:
        return 0
    return int(result.output.split("Flagged grades (")[1].split(")")[0])


def test_runs_lists_the_run(db: Path) -> None:
    result = run("runs", "--db", db)
    assert result.exit_code == 0, result.output
    assert "finished" in result.output and "90" in result.output
    assert "Lesson 3" in result.output


def test_the_default_database_is_examiner_db_here(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(db.parent)
    db.rename(db.parent / "examiner.db")
    assert run("runs").exit_code == 0
    assert run("review").exit_code == 0


@pytest.mark.parametrize("command", [["runs"], ["review"], ["export", "--out", "x.csv"]])
def test_a_missing_database_is_a_clear_error(tmp_path: Path, command: list[str]) -> None:
    result = run(*command, "--db", tmp_path / "nope.db")
    assert result.exit_code == 1
    assert "nope.db: no such database" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "nope.db").exists()


def test_review_lists_flagged_grades_without_prompting_off_a_terminal(db: Path) -> None:
    result = run("review", "--db", db)
    assert result.exit_code == 0, result.output
    assert "Flagged grades" in result.output
    assert "needs_review" in result.output
    assert "not a terminal" in result.output


def test_set_overrides_a_grade_and_the_export_shows_it(db: Path, tmp_path: Path) -> None:
    before = flagged_count(db)
    result = run(
        "review", "--db", db, "--set", "ana", "stop-training", "3/5",
        "--note", "early stopping explained well", "--author", "kim",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "overrode ana · stop-training" in result.output and "→ 0.60 by kim" in result.output
    assert flagged_count(db) == before - 1  # reviewed: off the list

    out_jsonl = tmp_path / "out" / "grades.jsonl"
    result = run("export", "--db", db, "--out", out_jsonl)
    assert result.exit_code == 0, result.output
    assert "wrote 90 grades (1 reviewed by a teacher)" in result.output
    grades = [json.loads(line) for line in out_jsonl.read_text(encoding="utf-8").splitlines()]
    (ana,) = [g for g in grades if (g["student_id"], g["card_id"]) == ("ana", "stop-training")]
    assert ana["score"] == 0.6 and ana["label"] == "partial"
    assert ana["notes"][-1].startswith("overridden by kim: early stopping explained well (was ")

    out_csv = tmp_path / "grades.csv"
    assert run("export", "--db", db, "-o", out_csv).exit_code == 0
    with out_csv.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 90
    (row,) = [r for r in rows if (r["student_id"], r["card"]) == ("ana", "stop-training")]
    assert float(row["score"]) == 0.6


def test_set_takes_the_user_as_author_by_default(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "ms-jones")
    result = run("review", "--db", db, "--set", "ana", "stop-training", "0.9", "--note", "ok")
    assert result.exit_code == 0, result.output
    with Store.open(db) as store:
        (stored,) = [s for s in latest_records(store) if s.review is not None]
        assert stored.review is not None and stored.review.author == "ms-jones"
        assert stored.review.score == 0.9 and stored.review.previous_score == stored.grade.score


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "stop-training", "0.5"], "no grades for student 'nobody'"),
        (["ana", "no-such-card", "0.5"], "no grade for 'ana' on card 'no-such-card'; their cards:"),
    ],
)
def test_set_on_an_unknown_answer_is_a_user_error(db: Path, args: list[str], message: str) -> None:
    result = run("review", "--db", db, "--set", *args, "--note", "x")
    assert result.exit_code == 1
    assert message in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "ana", "stop-training", "7/5", "--note", "x"], "outside 0..1"),
        (["--set", "ana", "stop-training", "good", "--note", "x"], "not a score"),
        (["--set", "ana", "stop-training", "0.5"], "--note"),
        (["--set", "ana", "stop-training"], "--set"),
    ],
)
def test_set_with_bad_usage_exits_2(db: Path, args: list[str], message: str) -> None:
    result = run("review", "--db", db, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_parse_score() -> None:
    assert review_cli.parse_score("0.6") == 0.6
    assert review_cli.parse_score("3/5") == 0.6
    assert review_cli.parse_score(" 60% ") == 0.6
    assert review_cli.parse_score("1") == 1.0
    for bad in ("1.2", "-0.1", "3/0", "nan", "x/5", ""):
        with pytest.raises(ValueError):
            review_cli.parse_score(bad)


def test_interactive_review(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = flagged_count(db)
    # accept the first (no note), override the second (a bad score first), skip, quit.
    keys = "a\n\nbad\n0.5\n\nnot as wrong as it looks\ns\nq\n"
    with monkeypatch.context() as patch:
        patch.setattr(review_cli, "_interactive", lambda: True)
        result = run("review", "--db", db, "--author", "kim", input=keys)
        assert result.exit_code == 0, result.output
        assert "[a]ccept, a score" in result.output
        # Ctrl-D (end of input) stops like q.
        assert "reviewed 0: 0 accepted" in run("review", "--db", db, input="").output
    assert "is not a score" in result.output
    assert "reviewed 2: 1 accepted, 1 overridden" in result.output
    assert flagged_count(db) == before - 2
    with Store.open(db) as store:
        reviews = [s.review for s in latest_records(store) if s.review is not None]
    assert sorted((r.action, r.score, r.note, r.author) for r in reviews) == [
        ("accept", None, "", "kim"),
        ("override", 0.5, "not as wrong as it looks", "kim"),
    ]
    listed = run("review", "--db", db, "--all", "--limit", "1000")
    assert "✓" in listed.output and "→ 0.50" in listed.output


def test_export_of_one_run_and_bad_outputs(db: Path, tmp_path: Path) -> None:
    result = run("export", "--db", db, "--run", "1", "--out", tmp_path / "one.jsonl")
    assert result.exit_code == 0 and "wrote 90 grades" in result.output
    result = run("export", "--db", db, "--run", "7", "--out", tmp_path / "x.jsonl")
    assert result.exit_code == 1 and "no run 7" in result.output
    result = run("export", "--db", db, "--out", tmp_path / "x.txt")
    assert result.exit_code == 1 and ".jsonl or .csv" in result.output
    assert run("export", "--db", db).exit_code == 2  # --out is required


def test_an_empty_database(tmp_path: Path) -> None:
    Store.open(tmp_path / "empty.db").close()
    assert "no runs yet" in run("runs", "--db", tmp_path / "empty.db").output
    assert "nothing to review" in run("review", "--db", tmp_path / "empty.db").output
    result = run("export", "--db", tmp_path / "empty.db", "--out", tmp_path / "x.csv")
    assert result.exit_code == 1 and "no runs yet" in result.output
