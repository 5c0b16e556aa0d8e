"""`examiner serve` with the real model: feedback, and the same runs as `examiner grade`."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")

from examiner.batch import RunIdentity
from examiner.rubric import load_rubric
from examiner.scoring.grader import Grader
from examiner.web.decks import SerialScorer
from tests.conftest import CNN_RUBRIC
from tests.test_web import answer_card, client_for, make_config


def test_a_run_graded_here_is_the_run_examiner_grade_makes() -> None:
    rubric = load_rubric(CNN_RUBRIC)
    plain = Grader(rubric, scorer="lexical")
    wrapped = SerialScorer(plain.scorer, threading.Lock())
    assert RunIdentity.of(Grader(rubric, scorer=wrapped)) == RunIdentity.of(plain)


@pytest.mark.model
def test_practice_feedback_with_the_model(tmp_path: Path, grader: Any) -> None:
    def shared(rubric: Any, notice: Any) -> Grader:
        return Grader(rubric, scorer=grader.scorer)

    config = make_config(tmp_path, scorer="auto")
    with client_for(config, shared) as c:
        slug = next(iter(c.app.state.decks)).slug  # type: ignore[attr-defined]
        reference = load_rubric(CNN_RUBRIC).card("cross-entropy").reference_answer
        feedback = answer_card(c, slug, "ana", reference)
        assert "✔ covered" in feedback
        assert 'class="rating good suggested"' in feedback or "rating easy suggested" in feedback
        deck = c.app.state.decks.get(slug)  # type: ignore[attr-defined]
        identity = RunIdentity.of(deck.grader())
    assert identity == RunIdentity.of(Grader(deck.rubric, scorer=grader.scorer))
