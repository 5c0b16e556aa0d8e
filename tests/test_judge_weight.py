"""The judge's weight: fitted on teacher-graded answers, kept in the calibration, applied."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from examiner.cli import app
from examiner.config import judge_settings
from examiner.errors import ConfigError, ExaminerError
from examiner.evaluation.judge_weight import JudgedAnswer, fit_judge_weight
from examiner.judge import judge_grade, with_weight
from examiner.scoring.calibration import JudgeWeight, hand_set_calibration, load_calibration
from tests.conftest import CNN_RUBRIC
from tests.openai_server import ScriptedOpenAI
from tests.test_evaluate_cli import ROWS, write_graded
from tests.test_judge_unit import CARD, SETTINGS, first_grade, verdict

runner = CliRunner()

FULL = verdict(
    [
        ("same-size", "covered", "the SAME size as the input"),
        ("padding", "covered", "we pad the  borders with zeros"),
        ("centred", "covered", "the SAME size"),
    ]
)


def test_the_weight_moves_the_grade_that_far_from_the_embedding_stage() -> None:
    first = first_grade({"same-size": "covered"}, 0.4)
    whole = judge_grade(CARD, first, FULL, SETTINGS)
    assert whole.score == 1.0 and not any(n.startswith("judge_weight") for n in whole.notes)
    half = judge_grade(CARD, first, FULL, replace(SETTINGS, weight=0.5))
    assert half.score == pytest.approx(0.7) and half.label == "partial"
    assert half.points == pytest.approx(0.7)
    assert "judge_weight: judge 1.00, embedding 0.40: 0.70 at judge weight 0.50" in half.notes
    # The judge's own reading stays on the grade, unweighted, for the reviewer.
    assert half.judge is not None and half.judge.score == 1.0
    none = judge_grade(CARD, first, FULL, replace(SETTINGS, weight=0.0))
    assert none.score == pytest.approx(0.4) and none.scorer == "judge"


def test_the_weight_comes_from_the_setting_then_the_calibration_then_one() -> None:
    cal = hand_set_calibration("all-MiniLM-L6-v2")
    assert with_weight(SETTINGS, cal).weight == 1.0
    fitted = cal.model_copy(
        update={"judge_weights": {"judge-model": JudgeWeight(weight=0.35, answers=40)}}
    )
    assert with_weight(SETTINGS, fitted).weight == 0.35
    assert with_weight(replace(SETTINGS, model="other"), fitted).weight == 1.0
    assert with_weight(replace(SETTINGS, weight=0.8), fitted).weight == 0.8


def test_the_weight_setting_is_read_from_the_environment_and_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXAMINER_JUDGE_WEIGHT", "0.25")
    assert judge_settings(model="m").weight == 0.25
    monkeypatch.setenv("EXAMINER_JUDGE_WEIGHT", "1.5")
    with pytest.raises(ConfigError, match=r"between 0 and 1, not 1\.5"):
        judge_settings(model="m")
    monkeypatch.setenv("EXAMINER_JUDGE_WEIGHT", "half")
    with pytest.raises(ConfigError, match="EXAMINER_JUDGE_WEIGHT must be a number"):
        judge_settings(model="m")


def _answers(judge_error: float, n: int = 40) -> list[JudgedAnswer]:
    """Teacher scores spread over 0..1; the embedding stage off by ±0.2, the judge by
    ±`judge_error`, the two errors independent (alternating on different periods)."""
    out = []
    for i in range(n):
        human = (i % 11) / 10
        emb = min(1.0, max(0.0, human + (0.2 if i % 2 else -0.2)))
        judge = min(1.0, max(0.0, human + (judge_error if (i // 2) % 2 else -judge_error)))
        out.append(JudgedAnswer(f"card-{i % 4}", human, emb, judge))
    return out


def test_a_judge_better_than_the_embedding_stage_earns_a_high_weight() -> None:
    fitted = fit_judge_weight(_answers(0.02), fitted_on="synthetic")
    assert fitted.weight >= 0.9 and fitted.answers == 40 and fitted.fitted_on == "synthetic"
    cv = fitted.cross_validation
    assert cv["mae_blend"] < cv["mae_embedding"] and cv["mae_judge"] < cv["mae_embedding"]


def test_a_judge_worse_than_the_embedding_stage_cannot_make_grades_worse() -> None:
    fitted = fit_judge_weight(_answers(0.6))
    assert fitted.weight <= 0.3
    cv = fitted.cross_validation
    assert cv["mae_judge"] > cv["mae_embedding"]
    assert cv["mae_blend"] <= cv["mae_embedding"] + 0.02


def test_answers_the_judge_gave_nothing_for_keep_their_embedding_grade() -> None:
    answers = _answers(0.02) + [JudgedAnswer("card-0", 1.0, 0.0, None)] * 5
    fitted = fit_judge_weight(answers)
    assert fitted.answers == 40  # the five count for the held-out figures, not the fit


def test_too_few_judged_answers_is_a_clear_error() -> None:
    few = _answers(0.1, n=10) + [JudgedAnswer("card-0", 1.0, 0.5, None)] * 30
    with pytest.raises(ExaminerError, match=r"at least 20 answers the judge judged.*judged 10"):
        fit_judge_weight(few)


@pytest.mark.model
def test_calibrate_judge_fits_the_weight_and_grading_applies_it(  # type: ignore[no-untyped-def]
    grader, server: ScriptedOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("EXAMINER_JUDGE_MODEL", "scripted-judge")
    rows = ROWS + [(student + "2", card, answer, score) for student, card, answer, score in ROWS]
    graded = write_graded(tmp_path / "g.csv", rows=rows)
    out = tmp_path / "cal.json"
    result = runner.invoke(
        app,
        ["calibrate", str(CNN_RUBRIC), str(graded), "-o", str(out), "--folds", "2", "--judge"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "The judge scripted-judge against the teacher" in result.stdout
    # One call a distinct answer with something to read (the cache answers the repeats).
    assert len(server.chat_requests) == len({(r[1], r[2]) for r in rows if r[2]})
    fitted = load_calibration(out).judge_weights["scripted-judge"]
    assert 0 <= fitted.weight <= 1 and fitted.answers >= 20
    assert set(fitted.cross_validation) == {"mae_embedding", "mae_judge", "mae_blend"}
    assert f"{fitted.weight:.2f}" in result.stdout

    # The weight applies to grading with that calibration: a weight of 0 keeps the
    # embedding stage's score on a judged grade (the judge's reading still shown).
    cal = load_calibration(out)
    zero = {"scripted-judge": fitted.model_copy(update={"weight": 0.0})}
    out.write_text(cal.model_copy(update={"judge_weights": zero}).model_dump_json(), "utf-8")
    args = ["grade", str(CNN_RUBRIC), "--card", "same-conv", "--json", "--judge", "always"]
    answer = ["--answer", "The output has the same size as the input."]
    weighted = runner.invoke(app, [*args, "--calibration", str(out), *answer])
    assert weighted.exit_code == 0, weighted.output
    grade = json.loads(weighted.stdout)
    assert grade["scorer"] == "judge"
    assert grade["score"] == pytest.approx(grade["embedding"]["score"], abs=1e-4)
    assert any(n.startswith("judge_weight:") for n in grade["notes"])


def test_calibrate_judge_without_a_judge_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXAMINER_JUDGE_MODEL", raising=False)
    graded = write_graded(tmp_path / "g.csv")
    result = runner.invoke(
        app,
        ["calibrate", str(CNN_RUBRIC), str(graded), "-o", str(tmp_path / "c.json"), "--judge"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code != 0
    assert "--judge needs a judge: no judge model: set EXAMINER_JUDGE_MODEL" in result.stderr
    assert not (tmp_path / "c.json").exists()


def test_a_judge_weight_below_one_is_part_of_a_runs_identity() -> None:
    from examiner.batch import judge_identity

    # At 1 (or unset) the identity is what it was before weights: stored runs resume.
    assert judge_identity(SETTINGS) == judge_identity(replace(SETTINGS, weight=1.0))
    assert "weight" not in judge_identity(SETTINGS)
    assert judge_identity(replace(SETTINGS, weight=0.4))["weight"] == 0.4
