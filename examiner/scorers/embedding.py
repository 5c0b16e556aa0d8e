"""The embedding stage: cosine similarity of answer segments to key points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..calibration import Calibration, default_calibration
from ..embedder import Embedder
from ..models import Grade, RubricCard, ScorerName, Submission
from .base import Evidence, assess, card_phrasings, segments_of, trivial_grade

__all__ = ["EmbeddingScorer"]


@dataclass(frozen=True)
class _CardVectors:
    key_points: NDArray[np.float32]
    misconceptions: NDArray[np.float32]
    context: NDArray[np.float32]


class EmbeddingScorer:
    """Scores answers by sentence-embedding similarity; one encode call per batch."""

    name: ScorerName = "embedding"

    def __init__(self, embedder: Embedder, calibration: Calibration | None = None) -> None:
        self.embedder = embedder
        self.model = embedder.name
        self.calibration = calibration or default_calibration(self.model)
        self.calibration.check_model(self.model)
        self._cards: dict[tuple[str, str], _CardVectors] = {}

    def _card_key(self, card: RubricCard) -> tuple[str, str]:
        # The id alone is not enough: two rubrics may reuse ids with other text.
        return card.id, card.model_dump_json(include={"question", "key_points", "misconceptions"})

    def _encode_cards(self, cards: Sequence[RubricCard]) -> None:
        """Encode every card not seen before, all in one call: each rubric is encoded once."""
        todo = {self._card_key(c): c for c in cards if self._card_key(c) not in self._cards}
        if not todo:
            return
        spans: list[tuple[tuple[str, str], int, int, int]] = []
        texts: list[str] = []
        for key, card in todo.items():
            kp_texts, mis_texts = card_phrasings(card)
            start = len(texts)
            texts.extend(kp_texts)
            texts.extend(mis_texts)
            texts.extend([card.question, card.reference_answer or card.question])
            spans.append((key, start, len(kp_texts), len(mis_texts)))
        vectors = self.embedder.encode(texts)
        for key, start, n_kp, n_mis in spans:
            kp = vectors[start : start + n_kp]
            mis = vectors[start + n_kp : start + n_kp + n_mis]
            ctx = np.vstack([kp, vectors[start + n_kp + n_mis : start + n_kp + n_mis + 2]])
            self._cards[key] = _CardVectors(kp, mis, ctx)

    def score_batch(self, items: Sequence[tuple[RubricCard, Submission]]) -> list[Grade]:
        grades: list[Grade | None] = [None] * len(items)
        pending: list[tuple[int, tuple[list[str], bool]]] = []
        for i, (card, sub) in enumerate(items):
            trivial = trivial_grade(card, sub, self.name)
            if trivial is not None:
                grades[i] = trivial
            else:
                pending.append((i, segments_of(sub.answer)))
        self._encode_cards([items[i][0] for i, _ in pending])

        index: dict[str, int] = {}
        for _, (segments, _whole) in pending:
            for seg in segments:
                index.setdefault(seg, len(index))
        vectors = self.embedder.encode(list(index))
        models = {"embedding": self.model}

        for i, (segments, has_whole) in pending:
            card, sub = items[i]
            cv = self._cards[self._card_key(card)]
            seg_vecs = vectors[[index[s] for s in segments]]
            evidence = Evidence(
                segments=segments,
                kp_sims=seg_vecs @ cv.key_points.T,
                mis_sims=seg_vecs @ cv.misconceptions.T,
                relevance=float((seg_vecs @ cv.context.T).max()),
                has_whole=has_whole,
                models=models,
            )
            grades[i] = assess(card, sub, evidence, self.calibration, self.name)
        return [g for g in grades if g is not None]
