"""The sentence-transformers backend (torch): any model it can load.

Installed with the `torch` extra (`pip install 'examiner[torch]'`). The
default model runs through ONNX Runtime instead (`onnx_embedder`); this path
serves every other model, training, and the packaged model when its ONNX
file cannot be used. Imported only when such a model is loaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MissingExtraError, ModelLoadError
from .embedder import TokenVectors, length_groups, piece_words, resolve_model

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["SentenceTransformerEmbedder"]


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use, CPU by default."""

    def __init__(
        self, model: str | None = None, *, batch_size: int = 32, device: str | None = None
    ) -> None:
        self.name, self._target = resolve_model(model)
        self.batch_size = batch_size
        self.device = device or os.environ.get("EXAMINER_DEVICE") or "cpu"
        self._model: Any = None

    def load(self) -> None:
        if self._model is not None:
            return
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingExtraError(
                f"embedding model {self.name!r} needs sentence-transformers ({exc}): "
                "install it with `pip install 'examiner[torch]'`",
                setting="model",
            ) from exc
        try:
            # Never wait on a model hub: a hub name that is not cached fails at
            # once instead of retrying for a minute. The process environment is
            # the caller's: read (HF_HUB_OFFLINE=0 opts back in), never written.
            with _quiet_loading():
                self._model = SentenceTransformer(
                    self._target, device=self.device, local_files_only=_offline()
                )
        except Exception as exc:  # any backend failure means: no model here
            raise ModelLoadError(
                f"cannot load embedding model {self.name!r}: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}. Name a model available "
                "offline (a local path or a cached hub name), or unset "
                "EXAMINER_EMBEDDING_MODEL to use the packaged default",
                setting="model",
            ) from exc

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._encode_grouped(texts, convert_to_numpy=True, normalize_embeddings=True)
        return np.asarray(np.stack(vectors), dtype=np.float32)

    def encode_tokens(self, texts: Sequence[str]) -> tuple[NDArray[np.float32], list[TokenVectors]]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        outputs = self._encode_grouped(
            texts, output_value=None, convert_to_numpy=False, normalize_embeddings=True
        )
        tokenizer = self._model.tokenizer
        special = set(tokenizer.all_special_tokens)  # a property that builds a list each call
        sentences = np.empty((len(outputs), self.dimension), dtype=np.float32)
        tokens: list[TokenVectors] = []
        for i, out in enumerate(outputs):
            sentence = out["sentence_embedding"].float().numpy()
            sentences[i] = sentence / max(float(np.linalg.norm(sentence)), 1e-12)
            pieces = tokenizer.convert_ids_to_tokens(out["input_ids"].tolist())
            vectors = out["token_embeddings"].float().numpy()
            keep = [j for j, t in enumerate(pieces) if t not in special]
            kept = vectors[keep]
            kept /= np.maximum(np.linalg.norm(kept, axis=1, keepdims=True), 1e-12)
            tokens.append(TokenVectors(piece_words([pieces[j] for j in keep]), kept))
        return sentences, tokens

    def _encode_grouped(self, texts: Sequence[str], **options: Any) -> list[Any]:
        """The model's outputs for `texts`, in order, from batches of similar lengths.

        A batch is padded to its longest text, so one long answer batched with
        its short sentences multiplies the work (a 12-segment answer: 210 ms
        in one batch, 80 ms grouped). sentence-transformers sorts a call's
        texts by length but cuts batches by count alone; here a batch also
        ends where the length halves.
        """
        self.load()
        results: list[Any] = [None] * len(texts)
        for group in length_groups([len(t) for t in texts], self.batch_size):
            outputs = self._model.encode(
                [texts[i] for i in group],
                batch_size=len(group),
                show_progress_bar=False,
                **options,
            )
            for i, output in zip(group, outputs, strict=True):
                results[i] = output
        return results

    @property
    def dimension(self) -> int:
        self.load()
        # sentence-transformers renamed this method; accept both spellings.
        get = getattr(self._model, "get_embedding_dimension", None)
        get = get or self._model.get_sentence_embedding_dimension
        return int(get())


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """No "Loading weights" progress bar from transformers while a model loads; the
    caller's setting is restored after."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def _offline() -> bool:
    """Load from local files only, unless the environment says HF_HUB_OFFLINE=0."""
    return os.environ.get("HF_HUB_OFFLINE", "1").strip().lower() not in ("0", "false", "no")
