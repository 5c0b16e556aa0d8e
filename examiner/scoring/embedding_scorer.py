"""The embedding stage: cosine similarity of answer segments to key points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..models import Flag, Grade, RubricCard, ScorerName, Submission
from .calibration import Calibration, default_calibration
from .checker import PairChecker
from .embedder import Embedder, TokenVectors
from .evidence import Evidence, card_phrasings, segments_of
from .examples import ExampleBank
from .language import respell
from .rules import trivial_grade
from .score import Assessment, assess
from .similarity import pair_features
from .vector_cache import VectorCache

__all__ = ["EmbeddingScorer"]

# Cards whose key points come this close to each other's are siblings, not other topics.
_SIBLING = 0.6


@dataclass(frozen=True)
class _CardVectors:
    key_points: NDArray[np.float32]
    misconceptions: NDArray[np.float32]
    question: NDArray[np.float32]
    references: NDArray[np.float32]
    reference_tokens: list[TokenVectors]


def _references(card: RubricCard) -> list[str]:
    """What a full answer looks like: the reference answer, first.

    A card with a single key point is all that point, so each phrasing of it
    is a full answer too (data sets with several reference answers are built
    that way).
    """
    references = [card.reference_answer or " ".join(p.text for p in card.key_points)]
    if len(card.key_points) == 1:
        references.extend(t for t in card.key_points[0].phrasings if t not in references)
    return references


def _vocabulary(card: RubricCard) -> frozenset[str]:
    kp_texts, mis_texts = card_phrasings(card)
    return frozenset([card.question, card.reference_answer or "", *kp_texts, *mis_texts])


def _respelled(card: RubricCard, answer: str) -> str:
    """The answer with its typing slips repaired against the card's own words.

    The model reads "gradint" as unrelated word pieces; spelling is not what
    is graded. Only words near a card word and not common English change, and
    the grade keeps the answer as written (quotes come from the repaired text).
    """
    return respell(answer, _vocabulary(card))


class EmbeddingScorer:
    """Scores answers by sentence-embedding similarity; one encode call per batch."""

    name: ScorerName = "embedding"

    def __init__(
        self,
        embedder: Embedder,
        calibration: Calibration | None = None,
        checker: PairChecker | None = None,
        examples: ExampleBank | None = None,
        vector_cache: VectorCache | None = None,
    ) -> None:
        self.embedder = embedder
        self.checker = checker
        self.examples = examples
        self.vector_cache = vector_cache
        self.model = embedder.name
        self.calibration = calibration or default_calibration(self.model)
        self.calibration.check_model(self.model)
        self._cards: dict[tuple[str, str], _CardVectors] = {}
        # Per card, the key-point vectors of the other cards it was prepared with.
        self._others: dict[tuple[str, str], NDArray[np.float32]] = {}

    def _card_key(self, card: RubricCard) -> tuple[str, str]:
        # The id alone is not enough: two rubrics may reuse ids with other text.
        return card.id, card.model_dump_json(include={"question", "key_points", "misconceptions"})

    def prepare(self, cards: Sequence[RubricCard]) -> None:
        """Encode a rubric's cards now (grading does it on first use otherwise).

        Cards prepared together are each other's neighbours: an answer closer
        to another card's key points than to its own is off topic.
        """
        self._encode_cards(cards)
        keys = [self._card_key(c) for c in cards]
        for key in keys:
            own = self._cards[key].key_points
            # Sibling cards (another part of the same question) say much of what this
            # one says: being close to them is no sign of an answer to another question.
            others = [
                self._cards[k].key_points
                for k in keys
                if k != key and float((own @ self._cards[k].key_points.T).max()) < _SIBLING
            ]
            if others:
                self._others[key] = np.vstack(others)

    def _encode_cards(self, cards: Sequence[RubricCard]) -> None:
        """Encode every card not seen before, all in one call: each rubric is encoded once."""
        todo = {self._card_key(c): c for c in cards if self._card_key(c) not in self._cards}
        if not todo:
            return
        spans: list[tuple[tuple[str, str], int, int, int, slice]] = []
        texts: list[str] = []
        references: list[str] = []  # their token vectors are needed too: not from the cache
        for key, card in todo.items():
            kp_texts, mis_texts = card_phrasings(card)
            start, ref_start = len(texts), len(references)
            texts.extend([*kp_texts, *mis_texts, card.question])
            references.extend(_references(card))
            refs = slice(ref_start, len(references))
            spans.append((key, start, len(kp_texts), len(mis_texts), refs))
        if self.vector_cache is None:
            vectors = self.embedder.encode(texts)
        else:
            vectors = self.vector_cache.encode(texts, self.embedder.encode)
        ref_vectors, ref_tokens = self.embedder.encode_tokens(references)
        for key, start, n_kp, n_mis, refs in spans:
            kp = vectors[start : start + n_kp]
            mis = vectors[start + n_kp : start + n_kp + n_mis]
            question = vectors[start + n_kp + n_mis]
            self._cards[key] = _CardVectors(kp, mis, question, ref_vectors[refs], ref_tokens[refs])

    def score_batch(self, items: Sequence[tuple[RubricCard, Submission]]) -> list[Grade]:
        return [a.grade for a in self.assess_batch(items)]

    def assess_batch(self, items: Sequence[tuple[RubricCard, Submission]]) -> list[Assessment]:
        grades: list[Assessment | None] = [None] * len(items)
        pending: list[tuple[int, tuple[list[str], bool]]] = []
        for i, (card, sub) in enumerate(items):
            trivial = trivial_grade(card, sub, self.name)
            if trivial is not None:
                grades[i] = Assessment(trivial, None)
            else:
                pending.append((i, segments_of(_respelled(card, sub.answer))))
        self._encode_cards([items[i][0] for i, _ in pending])
        if self.examples is not None:
            self.examples.prepare(self.embedder, [items[i][0].id for i, _ in pending])

        index: dict[str, int] = {}
        for _, (segments, _whole) in pending:
            for seg in segments:
                index.setdefault(seg, len(index))
        vectors, tokens = self.embedder.encode_tokens(list(index))
        models = {"embedding": self.model}
        if self.checker is not None:
            models["checker"] = getattr(self.checker, "name", "checker")

        for i, (segments, has_whole) in pending:
            card, sub = items[i]
            cv = self._cards[self._card_key(card)]
            rows = [index[s] for s in segments]
            seg_vecs = vectors[rows]
            others = self._others.get(self._card_key(card))
            evidence = Evidence(
                segments=segments,
                kp_sims=seg_vecs @ cv.key_points.T,
                mis_sims=seg_vecs @ cv.misconceptions.T,
                ref_sims=seg_vecs @ cv.references[0],
                question_sims=seg_vecs @ cv.question,
                # The last segment is the whole answer (or its only segment).
                pair=pair_features(seg_vecs[-1], cv.references, cv.question),
                has_whole=has_whole,
                tokens=[tokens[r] for r in rows],
                ref_tokens=cv.reference_tokens,
                models=models,
                other_sims=None if others is None else (seg_vecs @ others.T).max(axis=1),
                checker=self.checker,
            )
            assessment = assess(card, sub, evidence, self.calibration, self.name)
            if self.examples is not None:
                assessment = _pulled(assessment, self.examples, card, seg_vecs[-1])
            grades[i] = assessment
        return [g for g in grades if g is not None]


def _pulled(
    assessment: Assessment, examples: ExampleBank, card: RubricCard, vector: NDArray[np.float32]
) -> Assessment:
    """The grade pulled toward the teacher's graded examples close to it.

    Not for an answer that addresses the grader: its whole-answer vector
    carries that text, and closeness to a good answer is what it fakes.
    """
    grade = assessment.grade
    if Flag.POSSIBLE_INJECTION in grade.flags:
        return assessment
    score, note = examples.pull(card.id, vector, grade.score)
    if not note:
        return assessment
    pulled = grade.with_score(score, notes=[*grade.notes, note])
    return Assessment(pulled, assessment.features, assessment.pair)
