"""The answer checker: the packaged cross-encoder, where grading asks it, and its fallbacks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from examiner.errors import ModelLoadError
from examiner.scoring import checker as checker_module
from examiner.scoring.calibration import ScoreModel
from examiner.scoring.checker import LABELS, PACKAGED_CHECKER, Checker, checker_input
from examiner.scoring.features import CHECKER_FEATURES, FEATURES, measured_features
from examiner.scoring.grader import Grader

QUESTION = "What does a pooling layer do to the feature maps?"
POINT = "Pooling reduces the spatial size of the feature maps."


@pytest.fixture(scope="module")
def checker() -> Checker:
    found = checker_module.load_checker()
    assert found is not None, "the packaged checker is missing"
    return found


def test_the_first_text_names_the_point_then_the_question() -> None:
    assert checker_input("Why?  ", " It  shrinks.") == "It shrinks. [question] Why?"


@pytest.mark.model
def test_verdicts_are_probabilities_over_the_three_labels(checker: Checker) -> None:
    probs = checker.check(
        [(checker_input(QUESTION, POINT), "It makes the maps smaller."), ("a", "b")]
    )
    assert probs.shape == (2, len(LABELS))
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert checker.check([]).shape == (0, 3)


@pytest.mark.model
def test_it_tells_a_statement_from_its_negation_and_from_another_topic(checker: Checker) -> None:
    a = checker_input(QUESTION, POINT)
    stated, copied, negated, elsewhere = checker.check(
        [
            (a, "Pooling shrinks the height and width of each feature map."),
            (a, POINT),
            (a, "Pooling does not reduce the spatial size of the feature maps."),
            (a, "The learning rate sets the size of each gradient descent step."),
        ]
    )
    assert stated[0] > 0.5 and copied[0] > 0.5  # a near copy is not taken for a contradiction
    assert negated[1] > 0.5 > negated[0]
    assert elsewhere[2] > 0.5 > elsewhere[0]


@pytest.mark.model
def test_a_verdict_does_not_depend_on_the_pairs_checked_with_it(checker: Checker) -> None:
    a = checker_input(QUESTION, POINT)
    alone = checker.check([(a, "It halves the width.")])
    together = checker.check([("x", "y " * 40), (a, "It halves the width."), ("p", "q")])
    assert np.array_equal(alone[0], together[1])


def test_the_packaged_checker_is_small_enough_to_ship() -> None:
    assert (PACKAGED_CHECKER / "model.onnx").stat().st_size <= 30 * 2**20


def test_a_corrupt_checker_is_refused_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "checker"
    shutil.copytree(PACKAGED_CHECKER, folder)
    with (folder / "model.onnx").open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\0" * 64)
    with pytest.raises(ModelLoadError, match=r"model\.onnx is corrupt"):
        Checker(folder).load()


@pytest.mark.model
def test_grading_goes_on_without_a_broken_checker_with_one_notice(
    cnn_rubric, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "checker"
    shutil.copytree(PACKAGED_CHECKER, folder)
    (folder / "tokenizer.json").write_text("{}")
    monkeypatch.setattr(checker_module, "PACKAGED_CHECKER", folder)
    notices: list[str] = []
    grader = Grader(cnn_rubric, notice=notices.append)
    grade = grader.grade(1, "Cross-entropy measures how far the predicted probabilities are.")
    assert grader.scorer.checker is None  # type: ignore[attr-defined]
    assert "checker" not in grade.models
    assert len(notices) == 1 and "grading without the answer checker" in notices[0]


@pytest.mark.model
def test_a_grade_records_the_checker_and_its_signals(cnn_rubric) -> None:  # type: ignore[no-untyped-def]
    grader = Grader(cnn_rubric)
    card = cnn_rubric.cards[0]
    from examiner.models import Submission

    sub = Submission(student_id="s", card=card.id, answer=card.reference_answer or "x")
    [assessment] = grader.scorer.assess_batch([(card, sub)])
    assert assessment.features is not None
    assert set(CHECKER_FEATURES) <= set(assessment.features)
    assert assessment.grade.models["checker"].startswith("examiner-checker")
    assert Grader(cnn_rubric, checker=False).scorer.checker is None  # type: ignore[attr-defined]


def test_a_signal_the_scorer_could_not_measure_counts_as_average() -> None:
    names = [*FEATURES, *CHECKER_FEATURES]
    rng = np.random.default_rng(4)
    model = ScoreModel(
        features=names,
        mean=list(rng.uniform(0, 1, len(names))),
        scale=[0.3] * len(names),
        weights=list(rng.normal(0, 1, len(names))),
        bias=0.1,
    )
    row = dict(zip(names, rng.uniform(0, 1, len(names)), strict=True))
    without = {k: v for k, v in row.items() if k not in CHECKER_FEATURES}
    average = row | {k: model.mean[names.index(k)] for k in CHECKER_FEATURES}
    assert model.predict(without) == pytest.approx(model.predict(average))
    assert model.predict(without) != pytest.approx(model.predict(row))


def test_the_checker_signals_are_fitted_only_where_every_answer_has_them() -> None:
    full = dict.fromkeys([*FEATURES, *CHECKER_FEATURES], 0.5)
    bare = dict.fromkeys(FEATURES, 0.5)
    assert measured_features([full, full]) == [*FEATURES, *CHECKER_FEATURES]
    assert measured_features([full, bare]) == list(FEATURES)


class _ScriptedChecker:
    """Says "contradicts" for every passage with `cue` in it, "states" for the rest."""

    def __init__(self, cue: str) -> None:
        self.cue = cue

    def check(self, pairs):  # type: ignore[no-untyped-def]
        verdicts = [(0.05, 0.9, 0.05) if self.cue in b else (0.9, 0.05, 0.05) for _, b in pairs]
        return np.array(verdicts, dtype=np.float64)


@pytest.mark.model
def test_a_point_the_checker_reads_as_contradicted_is_flagged_for_review(
    embedder,  # type: ignore[no-untyped-def]
    cnn_rubric,
) -> None:
    from examiner.models import Flag, Submission
    from examiner.scoring import EmbeddingScorer

    card = cnn_rubric.cards[0]
    first, *rest = card.key_points
    answer = f"{first.text} {' '.join(p.text for p in rest)}"
    sub = Submission(student_id="s", card=card.id, answer=answer)
    cue = first.text.split()[-1].rstrip(".")

    def grade(checker):  # type: ignore[no-untyped-def]
        scorer = Grader(cnn_rubric, scorer=EmbeddingScorer(embedder, checker=checker)).scorer
        return scorer.score_batch([(card, sub)])[0]

    agreeing = grade(_ScriptedChecker("no passage has this"))
    against = grade(_ScriptedChecker(cue))
    assert Flag.POSSIBLE_CONTRADICTION not in agreeing.flags
    assert {Flag.POSSIBLE_CONTRADICTION, Flag.NEEDS_REVIEW} <= set(against.flags)
    assert any(f"{first.id!r} (answer checker)" in note for note in against.notes)
    # A flag, not a penalty: the point keeps the coverage its words earn.
    assert against.key_points[0].coverage == agreeing.key_points[0].coverage
    assert against.confidence < agreeing.confidence


def test_a_contradiction_needs_the_threshold_and_more_than_the_statement() -> None:
    from examiner.scoring.checking import Checked

    verdicts = {
        0: (2, np.array([0.1, 0.8, 0.1])),  # sure it says the opposite
        1: (3, np.array([0.1, 0.6, 0.3])),  # leaning, below the threshold
        2: (4, np.array([0.4, 0.35, 0.25])),  # states it more than it contradicts it
    }
    checked = Checked(reference=np.array([0.2, 0.75, 0.05]), points=verdicts)
    assert checked.contradicted(0.7) == {0: 2}
    assert checked.contradicted(0.5) == {0: 2, 1: 3}
    assert checked.contradicts_reference(0.7)
    assert not checked.contradicts_reference(0.8)


def test_an_answer_stating_nothing_on_the_card_earns_at_most_its_coverage() -> None:
    from examiner.scoring.calibration import default_calibration
    from examiner.scoring.checking import STATES_ANYTHING
    from examiner.scoring.embedder import DEFAULT_MODEL
    from examiner.scoring.rules import ruled_score

    cal = default_calibration(DEFAULT_MODEL)
    close_words = {"coverage": 0.2}
    nothing = close_words | {STATES_ANYTHING: cal.checker_states_at - 0.05}
    something = close_words | {STATES_ANYTHING: cal.checker_states_at + 0.05}
    assert ruled_score(0.8, nothing, [], [], cal) == pytest.approx(0.2)
    assert ruled_score(0.8, something, [], [], cal) == pytest.approx(0.8)
    assert ruled_score(0.8, close_words, [], [], cal) == pytest.approx(0.8)  # no checker ran
