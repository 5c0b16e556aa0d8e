"""Rubric vectors kept between runs: the same vectors, fewer encodes, never in the way."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from examiner.scoring.vector_cache import VectorCache, default_vector_cache


class _Counting:
    """A stand-in encoder: a fixed vector per text, counting the texts it was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.asked.extend(texts)
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_a_second_run_reads_the_vectors_back_instead_of_encoding(tmp_path: Path) -> None:
    encode = _Counting()
    first = VectorCache(tmp_path / "v.sqlite", "model-a").encode(
        ["a cat", "a dog", "a cat"], encode
    )
    assert encode.asked == ["a cat", "a dog"]  # each text once

    again = _Counting()
    second = VectorCache(tmp_path / "v.sqlite", "model-a").encode(["a dog", "a bat"], again)
    assert again.asked == ["a bat"]
    np.testing.assert_array_equal(second[0], first[1])
    assert second.dtype == np.float32


def test_vectors_of_another_model_are_not_used(tmp_path: Path) -> None:
    VectorCache(tmp_path / "v.sqlite", "model-a").encode(["a cat"], _Counting())
    other = _Counting()
    VectorCache(tmp_path / "v.sqlite", "model-b").encode(["a cat"], other)
    assert other.asked == ["a cat"]


def test_a_damaged_or_unwritable_cache_only_costs_the_encoding(tmp_path: Path) -> None:
    broken = tmp_path / "v.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    encode = _Counting()
    vectors = VectorCache(broken, "m").encode(["a cat", "a dog"], encode)
    assert encode.asked == ["a cat", "a dog"] and vectors.shape == (2, 3)
    blocked = tmp_path / "a-file"
    blocked.write_text("x")  # the cache's folder cannot be made under a file
    assert VectorCache(blocked / "v.sqlite", "m").encode(["a"], _Counting()).shape == (1, 3)


def test_no_cache_for_a_model_without_a_fingerprint() -> None:
    assert default_vector_cache("") is None
    cache = default_vector_cache("abc")
    assert cache is not None and cache.model == "abc"


@pytest.mark.model
def test_grades_are_the_same_from_cached_vectors(embedder, cnn_rubric, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from examiner.scoring import EmbeddingScorer
    from examiner.scoring.grader import Grader

    card = cnn_rubric.cards[2]
    answer = "Stop when the validation loss starts to rise while the training loss still falls."
    cache = default_vector_cache(embedder.fingerprint)  # under $EXAMINER_HOME: a tmp folder
    assert cache is not None

    def grade(vector_cache):  # type: ignore[no-untyped-def]
        scorer = EmbeddingScorer(embedder, vector_cache=vector_cache)
        return Grader(cnn_rubric, scorer=scorer).grade(card.id, answer).model_dump()

    uncached = grade(None)
    cold = grade(cache)  # encodes the rubric and keeps its vectors
    asked: list[str] = []
    original = embedder.encode
    monkeypatch.setattr(embedder, "encode", lambda texts: asked.extend(texts) or original(texts))
    warm = grade(cache)
    assert warm == cold == uncached
    assert not any(p.text in asked for c in cnn_rubric.cards for p in c.key_points)
