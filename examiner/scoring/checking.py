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

The verdicts serve twice: as signals of the calibration (`Checked.features`,
and the rule of `rules.ruled_score` for an answer that states nothing on the
card), and, where the checker is sure a segment states a key point's opposite,
as a reason to review the grade (`Checked.contradicted`; no credit moves).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..models import RubricCard
from .checker import PairChecker, checker_input
from .evidence import Evidence, SegmentUse, largest_parts

__all__ = ["STATES_ANYTHING", "Checked", "check_answer", "no_checker_features"]

# The highest P(states) of any pair checked: below the calibration's `checker_states_at`,
# the checker finds nothing on the card stated in the answer.
STATES_ANYTHING = "check_states_anything"

_NOTHING = {
    "check_reference": 0.0,
    "check_points": 0.0,
    "check_contradiction": 0.0,
    STATES_ANYTHING: 0.0,
}


@dataclass(frozen=True)
class Checked:
    """The checker's verdicts on one answer: (states, contradicts, neither) probabilities."""

    reference: NDArray[np.float64]  # the counted answer against the reference
    points: dict[int, tuple[int, NDArray[np.float64]]]  # key point -> (its segment, verdict)

    def features(self, card: RubricCard) -> dict[str, float]:
        """`features.CHECKER_FEATURES`: what the calibration reads."""
        weights = np.array([p.weight for p in card.key_points], dtype=np.float64)
        stated = np.zeros(len(weights))
        for k, (_, probs) in self.points.items():
            stated[k] = float(probs[0])
        every = np.vstack([self.reference, *(v for _, v in self.points.values())])
        return {
            "check_reference": float(self.reference[0]),
            "check_points": float(stated @ weights / weights.sum()),
            "check_contradiction": float(every[:, 1].max()),
            # Not a signal of the score model: what `rules.ruled_score` reads.
            STATES_ANYTHING: float(every[:, 0].max()),
        }

    def contradicted(self, at: float) -> dict[int, int]:
        """Key points whose segment the checker reads as stating their opposite, at
        P(contradicts) >= `at` and above P(states): key point -> segment."""
        return {k: seg for k, (seg, p) in self.points.items() if p[1] >= at and p[1] > p[0]}

    def contradicts_reference(self, at: float) -> bool:
        return bool(self.reference[1] >= at and self.reference[1] > self.reference[0])


def _counted_text(ev: Evidence, use: SegmentUse, counted: list[int]) -> str:
    """The answer as far as it still counts: the whole, or its largest counted parts."""
    if use.whole is not None and use.usable[use.whole]:
        return ev.segments[use.whole]
    return " ".join(ev.segments[i] for i in largest_parts(ev, counted))


def check_answer(
    card: RubricCard,
    ev: Evidence,
    use: SegmentUse,
    counted: list[int],
    kp_owner: NDArray[np.int64],
    checker: PairChecker,
    floor: float,
) -> Checked | None:
    """The checker's verdicts on the counted part of an answer (None when nothing counts).

    `floor`: the cosine below which a key point earns no coverage; points no
    counted segment reaches are left unchecked.
    """
    if not counted:
        return None
    whole = _counted_text(ev, use, counted)
    reference = card.reference_answer or " ".join(p.text for p in card.key_points)
    pairs = [(checker_input(card.question, reference), whole)]
    checked: list[tuple[int, int]] = []
    real = [i for i in counted if i != use.whole] or counted
    for k, point in enumerate(card.key_points):
        cols = np.flatnonzero(kp_owner == k)
        if float(ev.kp_sims[counted][:, cols].max()) < floor:
            continue
        best = max(real, key=lambda i: float(ev.kp_sims[i, cols].max()))
        passage = whole if len(real) == 1 else ev.segments[best]
        pairs.append((checker_input(card.question, point.text), passage))
        checked.append((k, best))
    probs = checker.check(pairs)
    points = {k: (seg, probs[row]) for row, (k, seg) in enumerate(checked, start=1)}
    return Checked(reference=probs[0], points=points)


def no_checker_features() -> dict[str, float]:
    """The checker's signals of an answer with nothing left to check."""
    return dict(_NOTHING)
