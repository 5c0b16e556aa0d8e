"""`examiner evaluate` and `examiner calibrate` through the CLI, good files and bad."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from examiner.cli import app
from examiner.formats.labelled import iter_graded
from examiner.scoring.calibration import load_calibration
from tests.conftest import CNN_RUBRIC

runner = CliRunner()

# Answers to four cards of the CNN rubric, each graded by hand on 0..5.
ROWS = [
    (
        "a",
        "same-conv",
        "The kernel is centred on every input position and the border is padded, "
        "so the output has the same size as the input.",
        5,
    ),
    ("b", "same-conv", "The output has the same size as the input.", 3),
    ("c", "same-conv", "I like football.", 0),
    (
        "a",
        "valid-conv",
        "The kernel stays fully inside the input, so the output is smaller: n - k + 1.",
        5,
    ),
    ("b", "valid-conv", "No padding, the output gets smaller.", 3.5),
    ("c", "valid-conv", "The output is bigger than the input.", 0),
    ("a", "receptive-field", "The region of the input that a neuron sees; it grows with depth.", 5),
    ("b", "receptive-field", "The part of the input that affects a neuron.", 3.5),
    ("c", "receptive-field", "The size of the kernel.", 1),
    (
        "a",
        "ten-kernels",
        "Ten different filters slide over the input, each looking for its own "
        "feature, giving ten feature maps.",
        5,
    ),
    ("b", "ten-kernels", "There are ten feature maps in the output.", 2.5),
    ("c", "ten-kernels", "", 0),
]


def write_graded(
    path: Path, rows=ROWS, header="student_id,card,answer,score,score_max", kinds=None
) -> Path:  # type: ignore[no-untyped-def]
    """The rows as CSV; `kinds` (student → category) adds a category column."""
    lines = [header + (",category" if kinds else "")]
    for student, card, answer, score in rows:
        quoted = '"' + answer.replace('"', '""') + '"'
        lines.append(
            f"{student},{card},{quoted},{score},5" + (f",{kinds[student]}" if kinds else "")
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_graded_reader_scales_scores(tmp_path: Path) -> None:
    items = list(iter_graded(write_graded(tmp_path / "g.csv")))
    assert len(items) == len(ROWS)
    assert items[1].human == 0.6 and items[1].scale == 5  # type: ignore[union-attr]


def test_evaluate_prints_every_figure(grader, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    graded = write_graded(tmp_path / "g.csv")
    result = runner.invoke(app, ["evaluate", str(CNN_RUBRIC), str(graded)])
    assert result.exit_code == 0, result.output
    for text in (
        "Pearson r",
        "Spearman",
        "RMSE (0..5)",
        "MAE",
        "weighted κ",
        "label accuracy",
        "Per card",
        "Largest disagreements",
        "same-conv",
    ):
        assert text in result.stdout

    result = runner.invoke(app, ["evaluate", str(CNN_RUBRIC), str(graded), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["n"] == len(ROWS)
    assert data["scale"] == 5
    assert data["pearson"] > 0.6  # these answers are not hard to tell apart
    assert len(data["worst"]) == 10
    assert sum(sum(row) for row in data["confusion"]) == len(ROWS)


def test_calibrate_round_trip_through_grade(grader, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    graded = write_graded(tmp_path / "g.csv")
    out = tmp_path / "cal.json"
    result = runner.invoke(
        app, ["calibrate", str(CNN_RUBRIC), str(graded), "-o", str(out), "--folds", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "Cross-validated agreement" in result.stdout
    assert "not tried: it needs 300 graded answers" in result.stdout
    cal = load_calibration(out)
    assert cal.model == "all-MiniLM-L6-v2" and cal.score_model is not None
    assert cal.cross_validation["n"] == len(ROWS)

    result = runner.invoke(
        app,
        [
            "grade",
            str(CNN_RUBRIC),
            "--card",
            "same-conv",
            "--json",
            "--calibration",
            str(out),
            "--answer",
            "The output has the same size as the input.",
        ],
    )
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["calibrate", str(CNN_RUBRIC), str(graded), "-o", str(out)])
    assert again.exit_code == 1 and "--force" in again.stderr
    no_head = runner.invoke(
        app, ["calibrate", str(CNN_RUBRIC), str(graded), "-o", str(out), "--force", "--no-head"]
    )
    assert no_head.exit_code == 0 and "off (--no-head)" in no_head.stdout


@pytest.mark.model
def test_calibration_for_another_model_is_refused(tmp_path: Path) -> None:
    cal = tmp_path / "other.json"
    cal.write_text(
        json.dumps(
            {
                "model": "other-model",
                "coverage_knots": [[0.2, 0], [0.6, 1]],
                "misconception_threshold": 0.7,
                "off_topic_threshold": 0.1,
            }
        )
    )
    result = runner.invoke(
        app, ["grade", str(CNN_RUBRIC), "--card", "1", "--answer", "x", "--calibration", str(cal)]
    )
    assert result.exit_code == 1
    assert "fitted for 'other-model'" in result.stderr


def test_missing_score_column_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "nograde.csv"
    bad.write_text("student_id,card,answer\na,1,something\n", encoding="utf-8")
    for command in ("evaluate", "calibrate"):
        result = runner.invoke(
            app,
            [command, str(CNN_RUBRIC), str(bad), "--scorer", "lexical"]
            if command == "evaluate"
            else [command, str(CNN_RUBRIC), str(bad)],
        )
        assert result.exit_code == 1, result.output
        assert "nograde.csv:1" in result.stderr and "no score or label column" in result.stderr
        assert "Traceback" not in result.output


def test_scores_outside_the_scale_are_reported_and_skipped(tmp_path: Path) -> None:
    bad = tmp_path / "scale.csv"
    bad.write_text(
        "student_id,card,answer,score\n"
        "a,15,same size as the input,1\n"
        "b,15,same size,3.5\n"
        "c,15,bigger,-1\n"
        "d,15,hm,lots\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["evaluate", str(CNN_RUBRIC), str(bad), "--scorer", "lexical", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "scale.csv:3 [score]: score 3.5 is outside 0..1 (give the scale in a score_max column)"
        in result.stderr
    )
    assert "scale.csv:4" in result.stderr and "scale.csv:5" in result.stderr
    assert json.loads(result.stdout)["n"] == 1

    only_bad = tmp_path / "only.csv"
    only_bad.write_text("student_id,card,answer,score\na,15,x,7\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", str(CNN_RUBRIC), str(only_bad), "--scorer", "lexical"])
    assert result.exit_code == 1
    assert "no graded answer could be scored" in result.stderr


# The kind of answer each student wrote, as a graded file's category column.
KINDS = {"a": "full answer", "b": "partial answer", "c": "wrong or empty"}


def test_evaluate_reports_each_kind_of_answer_when_the_file_names_them(tmp_path: Path) -> None:
    graded = write_graded(tmp_path / "kinds.csv", kinds=KINDS)
    args = ["evaluate", str(CNN_RUBRIC), str(graded), "--scorer", "lexical"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    kinds = {row["category"]: row for row in report["per_category"]}
    assert set(kinds) == {"full answer", "partial answer", "wrong or empty"}
    assert all(row["n"] == 4 for row in kinds.values())
    assert kinds["full answer"]["human_mean"] == 1.0
    maes = [row["mae"] for row in report["per_category"]]
    assert maes == sorted(maes, reverse=True)  # the worst kind first
    wrong = kinds["wrong or empty"]
    assert wrong["over"] + wrong["under"] <= wrong["n"]
    table = runner.invoke(app, args)
    assert "Per kind of answer" in table.stdout
    assert "partial answer" in table.stdout


def test_evaluate_without_a_category_column_shows_no_kinds(tmp_path: Path) -> None:
    graded = write_graded(tmp_path / "g.csv")
    result = runner.invoke(app, ["evaluate", str(CNN_RUBRIC), str(graded), "--scorer", "lexical"])
    assert result.exit_code == 0, result.output
    assert "Per kind of answer" not in result.stdout
