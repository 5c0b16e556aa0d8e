"""The features a calibration combines, on a card small enough to count by hand.

The card asks "What does pooling do?" (content words: pool). Its reference,
"Pooling shrinks the feature map.", adds shrink, feature, map; its key points
add downsampl(e), keep, largest, value. So, for the question's words Q, the
reference's new words R and everything the rubric uses U:

    Q = {pool}    R = {shrink, feature, map}    U = R | {downsampl, keep, largest, value}
"""

from __future__ import annotations

import math

import pytest

from examiner.models import KeyPoint, KeyPointResult, RubricCard, Status
from examiner.scoring.features import FEATURES, answer_features
from examiner.text import content_words

CARD = RubricCard(
    id="pooling",
    question="What does pooling do?",
    reference_answer="Pooling shrinks the feature map.",
    key_points=[
        KeyPoint(
            id="shrinks",
            text="It shrinks the map.",
            weight=3.0,
            alternatives=["It downsamples the map."],
        ),
        KeyPoint(id="largest", text="It keeps the largest value.", weight=1.0),
    ],
)


def result(point: KeyPoint, coverage: float, similarity: float) -> KeyPointResult:
    status: Status = "covered" if coverage == 1 else "partial" if coverage > 0 else "missing"
    return KeyPointResult(
        key_point_id=point.id,
        text=point.text,
        coverage=coverage,
        status=status,
        similarity=similarity,
    )


SHRINKS, LARGEST = CARD.key_points
# The first point covered, the second half covered.
RESULTS = [result(SHRINKS, 1.0, 0.9), result(LARGEST, 0.5, 0.6)]


def features(
    answer: str,
    card: RubricCard = CARD,
    results: list[KeyPointResult] = RESULTS,
    aligned: tuple[float, float] | None = None,
) -> dict[str, float]:
    return answer_features(
        card,
        results,
        content_words(answer),
        ref_sim=0.7,
        question_sim=0.2,
        contradiction=False,
        aligned=aligned,
    )


def test_the_features_come_in_the_order_a_calibration_reads_them() -> None:
    assert tuple(features("Pooling shrinks the map.")) == FEATURES


def test_key_point_features_are_weighted_by_the_key_points() -> None:
    got = features("Pooling shrinks the map.")
    assert got["coverage"] == pytest.approx((3 * 1.0 + 1 * 0.5) / 4)  # 0.875
    assert got["kp_sim_mean"] == pytest.approx((3 * 0.9 + 1 * 0.6) / 4)  # 0.825
    assert got["kp_sim_min"] == pytest.approx(0.6)


def test_similarities_and_the_contradiction_pass_through() -> None:
    got = answer_features(CARD, RESULTS, [], ref_sim=0.7, question_sim=0.2, contradiction=True)
    assert (got["ref_sim"], got["question_sim"], got["contradiction"]) == (0.7, 0.2, 1.0)
    assert features("Pooling shrinks the map.")["contradiction"] == 0.0


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            # words {pool, shrink, map, keep, largest, pixel}; all but pool are new
            "Pooling shrinks the map and keeps the largest pixel.",
            {
                "ref_recall": 2 / 3,  # shrink, map of R
                "ref_precision": 4 / 5,  # all new words but pixel are in U
                "question_share": 1 / 6,  # pool
                "log_length": math.log(1 + 6),
                "length_ratio": math.log((1 + 6) / (1 + 3)),
            },
            id="a-good-answer",
        ),
        pytest.param(
            # words {pool}: nothing new
            "Pooling.",
            {
                "ref_recall": 0.0,
                "ref_precision": 0.0,
                "question_share": 1.0,
                "log_length": math.log(1 + 1),
                "length_ratio": math.log((1 + 1) / (1 + 3)),
            },
            id="restates-the-question",
        ),
        pytest.param(
            # words {shrink, feature, map}: exactly the reference's new words
            "It shrinks the feature map.",
            {
                "ref_recall": 1.0,
                "ref_precision": 1.0,
                "question_share": 0.0,
                "log_length": math.log(1 + 3),
                "length_ratio": 0.0,
            },
            id="the-reference-in-other-words",
        ),
        pytest.param(
            # words {football, team, won, cup}: nothing from the card
            "The football team won the cup.",
            {
                "ref_recall": 0.0,
                "ref_precision": 0.0,
                "question_share": 0.0,
                "log_length": math.log(1 + 4),
                "length_ratio": math.log((1 + 4) / (1 + 3)),
            },
            id="off-topic",
        ),
        pytest.param(
            # words {shrink, map}, each said twice: repeats count once
            "Shrinks the map, shrinks the map.",
            {
                "ref_recall": 2 / 3,
                "ref_precision": 1.0,
                "question_share": 0.0,
                "log_length": math.log(1 + 2),
                "length_ratio": math.log((1 + 2) / (1 + 3)),
            },
            id="repeats-count-once",
        ),
        pytest.param(
            "",
            {
                "ref_recall": 0.0,
                "ref_precision": 0.0,
                "question_share": 0.0,
                "log_length": 0.0,
                "length_ratio": math.log(1 / (1 + 3)),
            },
            id="empty",
        ),
    ],
)
def test_word_features(answer: str, expected: dict[str, float]) -> None:
    got = features(answer)
    assert {name: got[name] for name in expected} == pytest.approx(expected)


def test_without_token_vectors_alignment_is_the_exact_word_overlap() -> None:
    got = features("Pooling shrinks the map and keeps the largest pixel.")
    assert got["align_recall"] == got["ref_recall"] == pytest.approx(2 / 3)
    assert got["align_precision"] == got["ref_precision"] == pytest.approx(4 / 5)


def test_with_token_vectors_alignment_is_taken_as_given() -> None:
    got = features("Pooling shrinks the map and keeps the largest pixel.", aligned=(0.25, 0.5))
    assert (got["align_recall"], got["align_precision"]) == (0.25, 0.5)
    assert got["ref_recall"] == pytest.approx(2 / 3)  # the exact overlap is still reported


def test_without_a_reference_the_key_points_stand_in() -> None:
    # R becomes the key points' new words: {shrink, map, downsampl, keep, largest, value}
    card = CARD.model_copy(update={"reference_answer": ""})
    got = features("Pooling shrinks the map and keeps the largest pixel.", card=card)
    assert got["ref_recall"] == pytest.approx(4 / 6)
    assert got["ref_precision"] == pytest.approx(4 / 5)
    assert got["length_ratio"] == pytest.approx(math.log((1 + 6) / (1 + 6)))


def test_a_reference_that_only_restates_the_question() -> None:
    # R is empty: no recall to measure, and the length is compared with one word.
    card = CARD.model_copy(update={"reference_answer": "Pooling."})
    got = features("Pooling shrinks the map.", card=card)
    assert got["ref_recall"] == 0.0
    assert got["length_ratio"] == pytest.approx(math.log((1 + 3) / (1 + 1)))


def test_equal_weights_are_a_plain_mean() -> None:
    card = CARD.model_copy(
        update={"key_points": [p.model_copy(update={"weight": 1.0}) for p in CARD.key_points]}
    )
    got = features("Pooling shrinks the map.", card=card)
    assert got["coverage"] == pytest.approx(0.75)
    assert got["kp_sim_mean"] == pytest.approx(0.75)


def test_one_result_per_key_point_is_required() -> None:
    with pytest.raises(ValueError):
        features("Pooling shrinks the map.", results=RESULTS[:1])
