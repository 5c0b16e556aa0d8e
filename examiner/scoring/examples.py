"""The teacher's own grades as evidence: a new answer close to graded ones is graded like them.

A rubric says what a full answer contains; a teacher's graded answers say
how this teacher grades the answers students actually write: which partial
answers earn half, which near-misses earn nothing. When a new answer is
close to answers the teacher already graded for the same card, its grade is
pulled toward theirs, the more the closer they are (similarity-weighted
nearest neighbours over the answers' embeddings). Far from every example,
the grade is the rubric's alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ..errors import Problem
from .embedder import Embedder

if TYPE_CHECKING:
    from ..formats.labelled import GradedAnswer
    from ..models import Rubric, RubricCard

__all__ = ["ExampleBank", "GradedExample"]


@dataclass(frozen=True)
class GradedExample:
    """An answer to a card and the teacher's credit for it (0..1)."""

    card_id: str
    answer: str
    score: float


class ExampleBank:
    """Graded example answers per card, encoded once.

    `threshold`: the cosine below which an example says nothing about a new
    answer; `k`: how many of the closest examples vote.
    """

    def __init__(
        self, examples: Iterable[GradedExample], *, threshold: float = 0.8, k: int = 5
    ) -> None:
        self.examples: dict[str, list[GradedExample]] = {}
        for example in examples:
            if example.answer.strip():
                self.examples.setdefault(example.card_id, []).append(example)
        self.threshold = threshold
        self.k = k
        self._vectors: dict[str, NDArray[np.float32]] = {}

    @classmethod
    def from_graded(
        cls, graded: Iterable[GradedAnswer | Problem], rubric: Rubric, source: str
    ) -> tuple[ExampleBank, list[Problem]]:
        """The examples of a graded file (`examiner evaluate`'s format), and its bad rows."""
        examples: list[GradedExample] = []
        problems: list[Problem] = []
        for item in graded:
            if isinstance(item, Problem):
                problems.append(item)
                continue
            sub = item.submission
            try:
                card = rubric.card(sub.card)
            except KeyError:
                problems.append(Problem(source, sub.row, f"unknown card {sub.card!r}", "card"))
                continue
            examples.append(GradedExample(card.id, sub.answer, item.human))
        return cls(examples), problems

    def with_examples(self, more: Iterable[GradedExample]) -> ExampleBank:
        """This bank and more examples, with the same settings."""
        mine = [e for examples in self.examples.values() for e in examples]
        return ExampleBank([*mine, *more], threshold=self.threshold, k=self.k)

    @property
    def fingerprint(self) -> str:
        """Changes when any example, its grade or the settings change (a run's identity)."""
        digest = hashlib.sha256(f"{self.threshold}:{self.k}".encode())
        for card in sorted(self.examples):
            for e in self.examples[card]:
                digest.update(f"\x1e{card}\x1f{e.answer}\x1f{e.score:.4f}".encode())
        return digest.hexdigest()[:16]

    def __len__(self) -> int:
        return sum(len(v) for v in self.examples.values())

    def cards(self) -> set[str]:
        return set(self.examples)

    def prepare(self, embedder: Embedder, card_ids: Sequence[str]) -> None:
        """Encode the examples of these cards (each card's once)."""
        todo = [c for c in card_ids if c in self.examples and c not in self._vectors]
        texts = [" ".join(e.answer.split()) for c in todo for e in self.examples[c]]
        if not texts:
            return
        vectors = embedder.encode(texts)
        start = 0
        for c in todo:
            n = len(self.examples[c])
            self._vectors[c] = vectors[start : start + n]
            start += n

    def nearest(self, card_id: str, vector: NDArray[np.float32], k: int = 3) -> list[GradedExample]:
        """The `k` graded answers to this card closest to an answer's vector, closest first.

        For the judge's prompt: shown whatever their distance (they tell how this
        teacher grades the card), unlike `pull`, which only close ones move.
        """
        vectors = self._vectors.get(card_id)
        if vectors is None or not len(vectors):
            return []
        order = np.argsort(-(vectors @ vector), kind="stable")[:k]
        return [self.examples[card_id][int(i)] for i in order]

    def for_judge(
        self, embedder: Embedder, k: int = 3
    ) -> Callable[[RubricCard, str], list[GradedExample]]:
        """What the judge stage asks for an answer: the `k` closest graded answers to its card."""

        def closest(card: RubricCard, answer: str) -> list[GradedExample]:
            if card.id not in self.examples:
                return []
            self.prepare(embedder, [card.id])
            vector = embedder.encode([" ".join(answer.split())])[0]
            return self.nearest(card.id, vector, k)

        return closest

    def pull(self, card_id: str, vector: NDArray[np.float32], score: float) -> tuple[float, str]:
        """The score pulled toward the closest graded examples, and a note ("" if none close).

        Each example at cosine s ≥ threshold votes with weight (s − t)/(1 − t);
        the vote's share of the final score is the closest example's weight, so
        an answer the teacher graded word for word gets the teacher's grade.
        """
        vectors = self._vectors.get(card_id)
        if vectors is None or not len(vectors):
            return score, ""
        sims = vectors @ vector
        order = np.argsort(-sims)[: self.k]
        close = [int(i) for i in order if sims[i] >= self.threshold]
        if not close:
            return score, ""
        weights = (sims[close] - self.threshold) / max(1.0 - self.threshold, 1e-6)
        weights = np.clip(weights, 1e-3, 1.0)
        grades = np.array([self.examples[card_id][i].score for i in close])
        vote = float(weights @ grades / weights.sum())
        share = float(weights.max())
        pulled = (1 - share) * score + share * vote
        note = (
            f"graded_examples: {len(close)} graded answer(s) to this card are close "
            f"(closest {float(sims[close[0]]):.2f}); their grade {vote:.2f} "
            f"moved the score from {score:.2f} to {pulled:.2f}"
        )
        return float(min(1.0, max(0.0, pulled))), note
