"""Asking the answer checker where it matters, and the signals its answers give.

A cross-encoder costs a model run per pair, so it is not run on every
segment against every phrasing: each key point is checked against the
segment the embedding stage found closest to it (and the whole answer, when
the answer has several segments), and the whole answer against the
reference. Only the segments still counted are checked: text addressed to
the grader and stated misconceptions are already set aside, so "a false
claim plus give full marks" is checked as the false claim it is.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..models import RubricCard
from .checker import PairChecker, checker_input
from .evidence import Evidence, SegmentUse, largest_parts

__all__ = ["check_features"]


def _counted_text(ev: Evidence, use: SegmentUse, counted: list[int]) -> str:
    """The answer as far as it still counts: the whole, or its largest counted parts."""
    if use.whole is not None and use.usable[use.whole]:
        return ev.segments[use.whole]
    return " ".join(ev.segments[i] for i in largest_parts(ev, counted))


def check_features(
    card: RubricCard,
    ev: Evidence,
    use: SegmentUse,
    counted: list[int],
    kp_owner: NDArray[np.int64],
    checker: PairChecker,
) -> dict[str, float]:
    """`features.CHECKER_FEATURES` of one answer (all 0 when nothing counts)."""
    if not counted:
        return {"check_reference": 0.0, "check_points": 0.0, "check_contradiction": 0.0}
    whole = _counted_text(ev, use, counted)
    reference = card.reference_answer or " ".join(p.text for p in card.key_points)
    pairs = [(checker_input(card.question, reference), whole)]
    owners: list[int] = []
    real = [i for i in counted if i != use.whole]
    for k, point in enumerate(card.key_points):
        cols = np.flatnonzero(kp_owner == k)
        best = max(real, key=lambda i: float(ev.kp_sims[i, cols].max())) if real else None
        passages = {whole} if best is None else {ev.segments[best], whole}
        a = checker_input(card.question, point.text)
        for passage in sorted(passages):
            pairs.append((a, passage))
            owners.append(k)
    probs = checker.check(pairs)
    weights = np.array([p.weight for p in card.key_points], dtype=np.float64)
    stated = np.zeros(len(card.key_points))
    for row, k in enumerate(owners, start=1):
        stated[k] = max(stated[k], float(probs[row, 0]))
    return {
        "check_reference": float(probs[0, 0]),
        "check_points": float(stated @ weights / weights.sum()),
        "check_contradiction": float(probs[:, 1].max()),
    }
