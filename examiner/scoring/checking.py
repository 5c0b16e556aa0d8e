"""Asking the answer checker where it matters, and the signals its answers give.

A cross-encoder costs a model run per pair, so it is not run on every
segment against every phrasing: the whole answer is checked against the
reference, and each key point against the one segment the embedding stage
found closest to it. A key point no segment comes near (below the cosine at
which coverage starts) is not checked: nothing there could state it or
contradict it, and asking would cost a run for a verdict of "neither".
Checking each point against the whole answer as well cost as many runs again
for no measurable gain on held-out questions (`benchmarks/agreement.py`).

Only the segments still counted are checked: text addressed to the grader
and stated misconceptions are already set aside, so "a false claim plus give
full marks" is checked as the false claim it is.
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
    floor: float,
) -> dict[str, float]:
    """`features.CHECKER_FEATURES` of one answer (all 0 when nothing counts).

    `floor`: the cosine below which a key point earns no coverage; points no
    counted segment reaches are left unchecked (stated 0).
    """
    if not counted:
        return {"check_reference": 0.0, "check_points": 0.0, "check_contradiction": 0.0}
    whole = _counted_text(ev, use, counted)
    reference = card.reference_answer or " ".join(p.text for p in card.key_points)
    pairs = [(checker_input(card.question, reference), whole)]
    owners: list[int] = []
    real = [i for i in counted if i != use.whole] or counted
    for k, point in enumerate(card.key_points):
        cols = np.flatnonzero(kp_owner == k)
        best = max(real, key=lambda i: float(ev.kp_sims[i, cols].max()))
        if float(ev.kp_sims[counted][:, cols].max()) < floor:
            continue
        passage = whole if len(real) == 1 else ev.segments[best]
        pairs.append((checker_input(card.question, point.text), passage))
        owners.append(k)
    probs = checker.check(pairs)
    weights = np.array([p.weight for p in card.key_points], dtype=np.float64)
    stated = np.zeros(len(card.key_points))
    for row, k in enumerate(owners, start=1):
        stated[k] = float(probs[row, 0])
    return {
        "check_reference": float(probs[0, 0]),
        "check_points": float(stated @ weights / weights.sum()),
        "check_contradiction": float(probs[:, 1].max()),
    }
