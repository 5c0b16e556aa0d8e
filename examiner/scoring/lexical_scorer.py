"""The lexical fallback: content-word overlap, stdlib only, fully deterministic.

It grades by the same rules as the embedding stage (see `score.assess`), so it
can stand in when no embedding model can be loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..models import Grade, RubricCard, ScorerName, Submission
from ..text import content_words
from .calibration import Calibration, default_calibration
from .evidence import Evidence, card_phrasings, segments_of
from .rules import trivial_grade
from .score import Assessment, assess

__all__ = ["LexicalScorer", "overlap"]


def overlap(segment: set[str], phrasing: set[str]) -> float:
    """Share of the phrasing's content words that the segment contains."""
    if not phrasing:
        return 0.0
    return len(segment & phrasing) / len(phrasing)


class LexicalScorer:
    name: ScorerName = "lexical"
    model = "lexical"

    def __init__(self, calibration: Calibration | None = None) -> None:
        self.calibration = calibration or default_calibration(self.model)
        self.calibration.check_model(self.model)

    def score_batch(self, items: Sequence[tuple[RubricCard, Submission]]) -> list[Grade]:
        return [a.grade for a in self.assess_batch(items)]

    def assess_batch(self, items: Sequence[tuple[RubricCard, Submission]]) -> list[Assessment]:
        return [self._assess(card, sub) for card, sub in items]

    def _assess(self, card: RubricCard, sub: Submission) -> Assessment:
        trivial = trivial_grade(card, sub, self.name)
        if trivial is not None:
            return Assessment(trivial, None)
        segments, has_whole = segments_of(sub.answer)
        seg_words = [set(content_words(s)) for s in segments]
        kp_texts, mis_texts = card_phrasings(card)
        kp_words = [set(content_words(t)) for t in kp_texts]
        mis_words = [set(content_words(t)) for t in mis_texts]
        reference = set(content_words(card.reference_answer or "\n".join(kp_texts)))
        question = set(content_words(card.question))
        evidence = Evidence(
            segments=segments,
            kp_sims=_matrix(seg_words, kp_words),
            mis_sims=_matrix(seg_words, mis_words),
            ref_sims=_matrix(seg_words, [reference])[:, 0],
            question_sims=_matrix(seg_words, [question])[:, 0],
            has_whole=has_whole,
            models={"embedding": "lexical"},
        )
        return assess(card, sub, evidence, self.calibration, self.name)


def _matrix(rows: list[set[str]], cols: list[set[str]]) -> np.ndarray:
    out = np.zeros((len(rows), len(cols)), dtype=np.float32)
    for i, seg in enumerate(rows):
        for j, phrasing in enumerate(cols):
            out[i, j] = overlap(seg, phrasing)
    return out
