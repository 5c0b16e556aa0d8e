"""Graded examples: a new answer close to answers the teacher graded is graded like them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from examiner.cli import app
from examiner.errors import Problem
from examiner.formats.labelled import iter_graded
from examiner.scoring.examples import ExampleBank, GradedExample
from tests.conftest import CNN_RUBRIC


class _Fixed:
    """An embedder whose vectors are given per text."""

    name = "fixed"

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = {
            k: np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for k, v in vectors.items()
        }

    def encode(self, texts):  # type: ignore[no-untyped-def]
        return np.stack([self.vectors[t] for t in texts])


def _bank(threshold: float = 0.8) -> ExampleBank:
    bank = ExampleBank(
        [GradedExample("c", "right", 1.0), GradedExample("c", "wrong", 0.0)], threshold=threshold
    )
    bank.prepare(_Fixed({"right": [1, 0, 0], "wrong": [0, 1, 0]}), ["c"])  # type: ignore[arg-type]
    return bank


def test_an_answer_the_teacher_graded_gets_the_teachers_grade() -> None:
    score, note = _bank().pull("c", np.array([1, 0, 0], dtype=np.float32), 0.3)
    assert score == pytest.approx(1.0)
    assert "moved the score from 0.30 to 1.00" in note


def test_far_from_every_example_the_grade_is_the_rubrics_alone() -> None:
    far = np.array([0, 0, 1], dtype=np.float32)
    assert _bank().pull("c", far, 0.3) == (0.3, "")
    assert _bank().pull("another card", np.array([1, 0, 0], dtype=np.float32), 0.3) == (0.3, "")


def test_the_closer_the_example_the_stronger_the_pull() -> None:
    near = np.array([0.97, 0.243, 0], dtype=np.float32)
    nearer = np.array([0.995, 0.0999, 0], dtype=np.float32)
    a, _ = _bank().pull("c", near / np.linalg.norm(near), 0.0)
    b, _ = _bank().pull("c", nearer / np.linalg.norm(nearer), 0.0)
    assert 0.0 < a < b < 1.0


def test_the_fingerprint_changes_with_a_grade() -> None:
    one = ExampleBank([GradedExample("c", "x", 1.0)])
    other = ExampleBank([GradedExample("c", "x", 0.5)])
    assert one.fingerprint != other.fingerprint
    assert one.fingerprint == ExampleBank([GradedExample("c", "x", 1.0)]).fingerprint


def test_examples_for_unknown_cards_are_reported_by_row(cnn_rubric, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "examples.jsonl"
    rows = [
        {"student_id": "a", "card": 1, "answer": "It measures the error.", "score": 0.5},
        {"student_id": "b", "card": 99, "answer": "Anything.", "score": 1.0},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    bank, problems = ExampleBank.from_graded(iter_graded(path), cnn_rubric, str(path))
    assert len(bank) == 1
    assert [(p.line, p.field) for p in problems if isinstance(p, Problem)] == [(2, "card")]


@pytest.mark.model
def test_grade_with_examples_pulls_a_graded_answer_to_its_grade(tmp_path: Path) -> None:
    answer = "The cross entropy block is there so the lecture slides look complete."
    examples = tmp_path / "examples.jsonl"
    examples.write_text(
        json.dumps({"student_id": "t", "card": 1, "answer": answer, "score": 0.35}) + "\n"
    )
    runner = CliRunner()
    plain = runner.invoke(
        app, ["grade", str(CNN_RUBRIC), "--card", "1", "--answer", answer, "--json"]
    )
    pulled = runner.invoke(
        app,
        [
            "grade",
            str(CNN_RUBRIC),
            "--card",
            "1",
            "--answer",
            answer,
            "--json",
            "--examples",
            str(examples),
        ],
    )
    assert plain.exit_code == 0 and pulled.exit_code == 0, pulled.output
    before, after = json.loads(plain.stdout)["score"], json.loads(pulled.stdout)["score"]
    assert after == pytest.approx(0.35, abs=0.01)
    assert before != pytest.approx(after, abs=0.01)
    assert any("graded_examples" in n for n in json.loads(pulled.stdout)["notes"])
