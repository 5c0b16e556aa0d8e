"""What a scorer measures, and how its rows and columns map back to the answer and rubric.

`Evidence` rows are segments of the answer (its sentences and clauses, then
the whole answer), its columns the phrasings of a card's key points and
misconceptions in rubric order. The helpers here turn a row back into the
words to quote and a column back into the key point it phrases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ..models import RubricCard
from ..text import content_words, split_segments
from .checker import PairChecker
from .embedder import TokenVectors
from .similarity import alignment

__all__ = [
    "Evidence",
    "SegmentUse",
    "aligned",
    "card_phrasings",
    "evidence_seg_text",
    "evidence_segment",
    "largest_parts",
    "owners",
    "segments_of",
]


def segments_of(answer: str) -> tuple[list[str], bool]:
    """Segments to score, and whether the last one is the whole answer.

    The whole answer catches points a student spreads over two sentences; it
    is added only when it is not already one of the segments.
    """
    segments = split_segments(answer)
    whole = " ".join(answer.split())
    if len(segments) > 1 and whole not in segments:
        return [*segments, whole], True
    return segments, False


def card_phrasings(card: RubricCard) -> tuple[list[str], list[str]]:
    """All phrasings of a card's key points, then of its misconceptions, in rubric order.

    `Evidence` columns follow this order; `assess` maps them back to their owner.
    """
    kp_texts = [text for point in card.key_points for text in point.phrasings]
    mis_texts = [text for wrong in card.misconceptions for text in wrong.phrasings]
    return kp_texts, mis_texts


@dataclass
class Evidence:
    """Similarities measured for one answer; rows are segments, columns phrasings."""

    segments: list[str]
    kp_sims: NDArray[np.float32]
    mis_sims: NDArray[np.float32]
    ref_sims: NDArray[np.float32]
    question_sims: NDArray[np.float32]
    has_whole: bool = False
    # Token vectors per segment and of the reference(s), where the scorer has them.
    tokens: list[TokenVectors] | None = None
    ref_tokens: list[TokenVectors] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)
    # `similarity.pair_features` of the whole answer, where the scorer has vectors.
    pair: np.ndarray | None = None
    # Each segment's best similarity to the key points of the rubric's other cards.
    other_sims: NDArray[np.float32] | None = None
    # The answer checker, where one runs (`checking.check_features` asks it).
    checker: PairChecker | None = None


class SegmentUse:
    """Which segments of an answer still earn credit, and which one is the whole answer."""

    def __init__(self, ev: Evidence) -> None:
        self.segments = ev.segments
        n_seg = len(ev.segments)
        self.usable = np.ones(n_seg, dtype=bool)
        self.whole = n_seg - 1 if ev.has_whole else None
        # The answer's own sentences and clauses: what a grade may quote.
        self.real = [i for i in range(n_seg) if i != self.whole]

    @property
    def parts(self) -> list[str]:
        """The segments without the whole answer."""
        n_seg = len(self.segments)
        return self.segments[: self.whole if self.whole is not None else n_seg]

    def set_aside(self, i: int, with_parts: bool = False) -> None:
        """Take a segment out of scoring, with every segment that contains it (or its parts)."""
        for j in range(len(self.segments)):
            if self.segments[i] in self.segments[j] or (
                with_parts and self.segments[j] in self.segments[i]
            ):
                self.usable[j] = False

    def counted(self) -> list[int]:
        """The segments still in scoring."""
        return [i for i in range(len(self.segments)) if self.usable[i]]


def owners(counts: list[int]) -> NDArray[np.int64]:
    """For each phrasing column, the index of the key point (or misconception) it phrases."""
    return np.repeat(np.arange(len(counts)), counts)


def evidence_segment(
    sims: NDArray[np.float64], real: list[int], seg: int, whole: int | None
) -> int:
    """Quote a real segment, not the whole answer, when the whole answer matched best."""
    if seg != whole or not real:
        return int(seg)
    return max(real, key=lambda i: float(sims[i].max()))


def evidence_seg_text(ev: Evidence, i: int) -> str:
    text = ev.segments[i]
    return text if len(text) <= 80 else text[:77] + "..."


def largest_parts(ev: Evidence, counted: list[int]) -> list[int]:
    """The counted segments not inside another counted one: a clause of a counted
    sentence adds nothing to it."""
    return [
        i for i in counted if not any(j != i and ev.segments[i] in ev.segments[j] for j in counted)
    ]


def aligned(card: RubricCard, ev: Evidence, counted: list[int]) -> tuple[float, float] | None:
    """Token alignment of the counted part of the answer with the reference."""
    if ev.tokens is None:
        return None
    parts = largest_parts(ev, counted)
    skip = frozenset(content_words(card.question))
    return alignment([ev.tokens[i] for i in parts], ev.ref_tokens, skip)
