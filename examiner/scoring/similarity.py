"""Similarity maths on unit vectors: pure numpy, no model."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from ..text import STOPWORDS, stem
from .embedder import TokenVectors

__all__ = ["alignment", "pair_features"]


def _content(tokens: TokenVectors, skip: Collection[str]) -> np.ndarray:
    return np.array(
        [
            any(ch.isalnum() for ch in w) and w not in STOPWORDS and stem(w) not in skip
            for w in tokens.words
        ],
        dtype=bool,
    )


def alignment(
    answer: Sequence[TokenVectors], references: Sequence[TokenVectors], skip: Collection[str]
) -> tuple[float, float]:
    """Soft token alignment of an answer with its best reference: (recall, precision).

    Each content token of the reference is matched to its most similar answer
    token (recall), and each new content token of the answer to its most
    similar reference token (precision), as in BERTScore. Words of the question
    (`skip`, stemmed) are left out on both sides: repeating the question earns
    nothing. With several references, the one with the best F1 counts.
    """
    parts = [t for t in answer if len(t.words)]
    if not parts or not references:
        return 0.0, 0.0
    vectors = np.vstack([t.vectors for t in parts])
    mask = np.concatenate([_content(t, skip) for t in parts])
    if not mask.any():
        return 0.0, 0.0
    ans = vectors[mask]
    best = (0.0, 0.0, -1.0)
    for ref in references:
        ref_mask = _content(ref, skip)
        if not ref_mask.any():
            continue
        sims = ref.vectors[ref_mask] @ ans.T
        recall = float(sims.max(axis=1).mean())
        precision = float(sims.max(axis=0).mean())
        f1 = 2 * recall * precision / max(recall + precision, 1e-9)
        if f1 > best[2]:
            best = (recall, precision, f1)
    return best[0], best[1]


def pair_features(answer: np.ndarray, references: np.ndarray, question: np.ndarray) -> np.ndarray:
    """What a learned similarity head reads: how the answer meets its closest reference.

    The element-wise product and absolute difference with the reference (as in
    Sentence-BERT's classification head), and the product with the question:
    which dimensions of agreement a course's teachers reward. Relations only:
    the answer's own vector never enters, so no wording is credited for
    itself, whatever the question.
    """
    reference = references[int(np.argmax(references @ answer))]
    return np.concatenate([answer * reference, np.abs(answer - reference), answer * question])
