"""The signals a calibration combines into a score, each with a reason to exist.

One cosine between answer and reference agrees with teachers only so far
(r ≈ 0.5 on the Mohler data). Teachers credit what the answer *adds* to the
question, penalise answers that say little or restate the question, and read
key points one by one. Each feature below captures one of those habits; all
are cheap (no model beyond the embedding already computed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache

from ..models import KeyPointResult, RubricCard
from ..text import content_words

__all__ = ["CHECKER_FEATURES", "FEATURES", "answer_features", "measured_features"]

FEATURES: tuple[str, ...] = (
    "coverage",  # weighted key-point coverage through the similarity curve
    "kp_sim_mean",  # weighted mean of each key point's best similarity
    "kp_sim_min",  # the worst-covered key point: a full answer misses none
    "ref_sim",  # best similarity of the answer (or a part) to the whole reference
    "question_sim",  # similarity to the question: restating it earns nothing
    "ref_recall",  # share of the reference's new words (not in the question) in the answer
    "ref_precision",  # share of the answer's new words that the reference or rubric uses
    "question_share",  # share of the answer's words taken from the question
    "log_length",  # log of the answer's content words: one word rarely explains
    "length_ratio",  # answer length against the reference's (log ratio)
    "contradiction",  # a key point matched by a statement of its opposite
    "align_recall",  # soft token alignment: the reference's new words found in the answer
    "align_precision",  # and the answer's new words found in the reference
)
# What the answer checker (`checker.py`) reads, where one runs: a cross-encoder
# sees negations, flipped directions and paraphrases that a cosine does not.
CHECKER_FEATURES: tuple[str, ...] = (
    "check_reference",  # P(the whole counted answer states the reference)
    "check_points",  # weighted mean over key points of P(its best passage states it)
    "check_contradiction",  # the highest P(a passage contradicts a key point or the reference)
)


def measured_features(rows: Iterable[dict[str, float]]) -> list[str]:
    """The signals every row has: the checker's only where it ran on all of them."""
    rows = list(rows)
    names = list(FEATURES)
    if rows and all(all(f in r for f in CHECKER_FEATURES) for r in rows):
        names += CHECKER_FEATURES
    return names


@lru_cache(maxsize=4096)
def _card_words(question: str, reference: str, points: str) -> tuple[frozenset[str], ...]:
    q = frozenset(content_words(question))
    ref = frozenset(content_words(reference)) - q
    rubric = frozenset(content_words(points)) - q
    return q, ref, ref | rubric


def answer_features(
    card: RubricCard,
    results: list[KeyPointResult],
    answer_words: Iterable[str],
    ref_sim: float,
    question_sim: float,
    contradiction: bool,
    aligned: tuple[float, float] | None = None,
) -> dict[str, float]:
    """Features of one answer, from its key-point results and the words it used.

    `answer_words` are the stemmed content words of the parts of the answer
    that count (text addressed to the grader is already left out). `aligned`
    is the soft token alignment (recall, precision) where the scorer has token
    vectors; without them the exact-word overlap stands in.
    """
    weights = [p.weight for p in card.key_points]
    total = sum(weights)
    points = "\n".join(t for p in card.key_points for t in p.phrasings)
    q_words, ref_words, rubric_words = _card_words(
        card.question, card.reference_answer or points, points
    )
    words = list(answer_words)
    unique = set(words)
    new = unique - q_words
    ref_recall = len(new & ref_words) / len(ref_words) if ref_words else 0.0
    ref_precision = len(new & rubric_words) / len(new) if new else 0.0
    question_share = len(unique & q_words) / len(unique) if unique else 0.0
    reference_length = max(len(ref_words), 1)
    return {
        "coverage": sum(w * r.coverage for w, r in zip(weights, results, strict=True)) / total,
        "kp_sim_mean": sum(w * r.similarity for w, r in zip(weights, results, strict=True)) / total,
        "kp_sim_min": min(r.similarity for r in results),
        "ref_sim": ref_sim,
        "question_sim": question_sim,
        "ref_recall": ref_recall,
        "ref_precision": ref_precision,
        "question_share": question_share,
        "log_length": math.log1p(len(unique)),
        "length_ratio": math.log((1 + len(unique)) / (1 + reference_length)),
        "contradiction": float(contradiction),
        "align_recall": aligned[0] if aligned else ref_recall,
        "align_precision": aligned[1] if aligned else ref_precision,
    }
