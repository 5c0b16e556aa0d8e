"""The command line through typer's runner: output, files and exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from examiner.cli import app
from tests.conftest import CNN_RUBRIC, EXAMPLE_CLASS, ROOT

runner = CliRunner()


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [str(a) for a in args], input=input)


def all_commands() -> list[tuple[str, Any]]:
    import typer.main

    root = typer.main.get_command(app)
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, cmd: Any) -> None:
        # typer vendors its own click: recognise a group by its sub-commands.
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            found.append((prefix, cmd))

    walk("", root)
    return found


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = all_commands()
    assert {name for name, _ in commands} >= {"grade", "rubric build", "rubric check"}
    for name, cmd in commands:
        assert (cmd.help or "").strip(), f"{name} has no help text"
        assert f"examiner {name}" in readme, f"`examiner {name}` is not in the README"
        result = run(*name.split(), "--help")
        assert result.exit_code == 0, result.output


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.startswith("examiner ")


def test_grade_one_answer_json(grader) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "grade",
        CNN_RUBRIC,
        "--card",
        "same-conv",
        "--json",
        "--answer",
        "The output has the same size as the input because the kernel is centred on "
        "every input position and the borders are padded.",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["card_id"] == "same-conv"
    assert data["score"] >= 0.8 and data["label"] == "correct"
    assert {kp["status"] for kp in data["key_points"]} == {"covered"}


def test_grade_one_answer_from_stdin_shows_key_points(grader) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "grade",
        CNN_RUBRIC,
        "--card",
        "3",
        input="Stop when the validation loss starts going up while training loss still falls.",
    )
    assert result.exit_code == 0, result.output
    assert "covered" in result.stdout
    assert "validation" in result.stdout


def test_grade_file_writes_jsonl_and_csv(grader, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    subs = tmp_path / "subs.csv"
    subs.write_text(
        "student_id,card,answer\n"
        'ann,15,"Same size: the kernel is centred on every input position, with padding."\n'
        'bob,nope,"anything"\n'
        'cat,12,"=HYPERLINK(""x"")"\n'
        "dan,2\n"
        'eve,valid-conv,"The output is smaller than the input."\n',
        encoding="utf-8",
    )
    result = run("grade", CNN_RUBRIC, subs, "--out", tmp_path / "out.jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["student_id"] for r in rows] == ["ann", "cat", "eve"]
    assert "subs.csv:3" in result.stderr and "unknown card" in result.stderr
    assert "subs.csv:5" in result.stderr

    result = run("grade", CNN_RUBRIC, subs, "--out", tmp_path / "out.csv")
    assert result.exit_code == 0, result.output
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [r["student_id"] for r in table] == ["ann", "cat", "eve"]
    assert float(table[0]["score"]) >= 0.6 and table[0]["label"] != "incorrect"
    assert all(not r["feedback"].startswith(("=", "+", "-", "@")) for r in table)


def test_example_class_grades_every_row(grader, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("grade", CNN_RUBRIC, EXAMPLE_CLASS, "--out", tmp_path / "r.jsonl")
    assert result.exit_code == 0, result.output
    with EXAMPLE_CLASS.open(newline="", encoding="utf-8") as handle:
        expected = sum(1 for _ in csv.DictReader(handle))
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == expected


def test_lexical_scorer_on_request(tmp_path: Path) -> None:
    result = run(
        "grade",
        CNN_RUBRIC,
        "--card",
        "15",
        "--answer",
        "same size",
        "--scorer",
        "lexical",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scorer"] == "lexical"


@pytest.mark.parametrize(
    "args, message",
    [
        (("grade", "missing.yaml", "--card", "1", "--answer", "x"), "missing.yaml"),
        (
            ("grade", CNN_RUBRIC, "--card", "99", "--answer", "x", "--scorer", "lexical"),
            "no card '99'",
        ),
        (("grade", CNN_RUBRIC, "nowhere.csv", "--scorer", "lexical"), "nowhere.csv"),
        (("rubric", "check", "missing.yaml"), "missing.yaml"),
        (("rubric", "build", "missing.txt"), "missing.txt"),
    ],
)
def test_user_errors_exit_1_with_one_line_and_no_traceback(args, message: str) -> None:  # type: ignore[no-untyped-def]
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("grade",),
        ("grade", CNN_RUBRIC),
        ("grade", CNN_RUBRIC, "--scorer", "magic", "--card", "1", "--answer", "x"),
        ("grade", CNN_RUBRIC, "--bogus"),
        ("rubric", "nope"),
    ],
)
def test_bad_usage_exits_2(args) -> None:  # type: ignore[no-untyped-def]
    result = run(*args)
    assert result.exit_code == 2, result.output


def test_rubric_check_reports_each_problem_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "title: t\ncards:\n  - id: a\n    question: q?\n    key_points:\n"
        "      - id: k\n        text: something\n        weight: 0\n"
        "      - id: k\n        text: other\n        wieght: 1\n",
        encoding="utf-8",
    )
    result = run("rubric", "check", bad)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) >= 3
    assert any("bad.yaml:8" in line and "weight" in line for line in lines)
    assert any("bad.yaml:11" in line and "wieght" in line for line in lines)
    assert any("duplicate" in line for line in lines)


def test_rubric_check_accepts_the_shipped_rubric() -> None:
    result = run("rubric", "check", CNN_RUBRIC)
    assert result.exit_code == 0, result.output
    assert "15 cards" in result.stdout


def test_rubric_build_then_grade(tmp_path: Path) -> None:
    deck = tmp_path / "deck.md"
    deck.write_text(
        "# Tiny deck\n\n## What does a pooling layer do?\n\n"
        "- It downsamples the feature map\n"
        "- It makes the representation more robust to small shifts\n",
        encoding="utf-8",
    )
    out = tmp_path / "tiny.yaml"
    assert run("rubric", "build", deck, "-o", out).exit_code == 0
    assert run("rubric", "check", out).exit_code == 0
    again = run("rubric", "build", deck, "-o", out)
    assert again.exit_code == 1 and "--force" in again.stderr
    result = run(
        "grade",
        out,
        "--card",
        "1",
        "--answer",
        "It downsamples the feature map.",
        "--scorer",
        "lexical",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["key_points"][0]["status"] == "covered"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line for line in readme.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2, "the README's first screen gives exactly two commands"
    # The main job installs no torch; the tests install the torch extra, CPU build first.
    assert "torch" not in commands[0]
    assert "torch==2.13.0" in commands[1] and "[torch,test]" in commands[1]
    assert commands[1].index("torch==2.13.0") < commands[1].index("[torch,test]")
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_grade_file_into_the_store_resumes_and_skips(tmp_path: Path) -> None:
    subs = tmp_path / "subs.csv"
    subs.write_text(
        "student_id,card,answer\n"
        "ann,15,The output has the same size as the input.\n"
        "bob,12,The output is smaller than the input.\n",
        encoding="utf-8",
    )
    db = tmp_path / "class.db"
    first = run(
        "grade", CNN_RUBRIC, subs, "--db", db, "--scorer", "lexical", "--out", tmp_path / "a.jsonl"
    )
    assert first.exit_code == 0, first.output
    assert "graded now" in first.stdout and db.exists()
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 2

    again = run("grade", CNN_RUBRIC, subs, "--db", db, "--scorer", "lexical")
    assert again.exit_code == 0, again.output
    assert "nothing graded again" in again.stdout

    runs = run("runs", "--db", db)
    assert runs.exit_code == 0 and "finished" in runs.stdout

    # Without --db a file still goes to examiner.db in the working directory (the test's own).
    default = run("grade", CNN_RUBRIC, subs, "--scorer", "lexical")
    assert default.exit_code == 0 and Path("examiner.db").exists()
    nodb = run("grade", CNN_RUBRIC, subs, "--scorer", "lexical", "--no-db", "--json")
    assert nodb.exit_code == 0 and len(nodb.stdout.splitlines()) == 2
