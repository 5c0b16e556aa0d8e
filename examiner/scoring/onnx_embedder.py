"""The default backend: the packaged all-MiniLM-L6-v2, 8-bit, through ONNX Runtime.

Made by `scripts/export_default_model.py` (export, attention fusion, dynamic
8-bit quantisation per channel) and shipped as package data with a manifest
holding each file's sha256, which is checked before the model is used. Needs
only onnxruntime, tokenizers and numpy: no torch, no transformers.

Pooling and normalising are sentence-transformers' own for this model (mean
of every token's vector, special tokens included, then L2), done here in
numpy, so the same pass also gives the token vectors.

Why one text per run, several runs at once: the 8-bit activations are
quantised with one scale per tensor, so a text padded into a batch would get a
slightly different vector than alone, and a grade would depend on which
answers it was batched with. One text per run is deterministic, wastes nothing
on padding, and (answers being a few dozen tokens) keeps each core busy better
than splitting one small run across cores: measured here (signed weights, on
answers and their sentences), 2 texts at once on 1 core each encoded 2.4-2.9x
as fast as sentence-transformers fp32, against 1.9-2.3x for one run on 2 cores
and 1.5-1.9x for length-sorted batches of 32.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelLoadError
from .embedder import DEFAULT_MODEL, TokenVectors, default_threads, piece_words

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["PACKAGED_MODEL", "OnnxEmbedder"]

PACKAGED_MODEL = Path(__file__).resolve().parents[1] / "data" / "minilm"
_FIX = "reinstall examiner, or remake it with `python scripts/export_default_model.py`"


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_manifest(folder: Path) -> dict[str, Any]:
    """The folder's manifest, after checking every file it lists against its sha256."""
    path = folder / "manifest.json"
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        files: dict[str, str] = manifest["files"]
        int(manifest["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(
            f"the ONNX model's manifest {path} is missing or unreadable "
            f"({type(exc).__name__}): {_FIX}"
        ) from exc
    for name, expected in files.items():
        file = folder / name
        if not file.is_file():
            raise ModelLoadError(f"the ONNX model file {file} is missing: {_FIX}")
        if _sha256(file) != expected:
            raise ModelLoadError(
                f"the ONNX model file {file} is corrupt (its sha256 is not the manifest's): {_FIX}"
            )
    return manifest


def open_session(model: Path, fix: str) -> Any:
    """An ONNX Runtime session on one core (callers run several at once)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: no warnings on stderr at load
    try:
        return onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelLoadError(
            f"ONNX Runtime cannot load {model} ({type(exc).__name__}): {fix}"
        ) from exc


def run_one(session: Any, encoding: Any) -> Any:
    """The model's first output for one tokenised text (or pair), unpadded."""
    ids = np.asarray([encoding.ids], dtype=np.int64)
    feeds = {
        "input_ids": ids,
        "attention_mask": np.ones_like(ids),
        "token_type_ids": np.asarray([encoding.type_ids], dtype=np.int64),
    }
    return session.run(None, feeds)[0][0]


class RunPool:
    """Runs one text per model run, `threads` runs at once (threads started on first use)."""

    def __init__(self, threads: int, name: str) -> None:
        self.threads = threads
        self._name = name
        self._pool: ThreadPoolExecutor | None = None

    def map(self, work: Any, items: list[int]) -> list[Any]:
        if self.threads == 1 or len(items) <= 1:
            return [work(i) for i in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix=self._name)
        return list(self._pool.map(work, items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class OnnxEmbedder:
    """The packaged model through ONNX Runtime; loaded on first use.

    `threads`: how many texts are encoded at once, each on one core (default:
    $EXAMINER_THREADS or every core this process may use).
    """

    name = DEFAULT_MODEL

    def __init__(self, folder: Path | None = None, *, threads: int | None = None) -> None:
        self.folder = folder or PACKAGED_MODEL
        self.threads = threads or default_threads()
        self.dimension = 384
        self._session: Any = None
        self._tokenizer: Any = None
        self._special: frozenset[str] = frozenset()
        self._pool = RunPool(self.threads, "examiner-onnx")
        self.fingerprint = ""  # the model file's sha256, once loaded

    def load(self) -> None:
        if self._session is not None:
            return
        manifest = read_manifest(self.folder)
        try:
            import onnxruntime  # noqa: F401  (here for the message; open_session uses it)
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelLoadError(
                f"the ONNX backend needs onnxruntime and tokenizers ({exc}): "
                "`pip install onnxruntime tokenizers`"
            ) from exc
        tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        # The file pads and truncates to 128; sentence-transformers truncates at
        # the model's max_seq_length (256) and pads only within a batch.
        tokenizer.enable_truncation(int(manifest["max_seq_length"]))
        tokenizer.no_padding()
        session = open_session(self.folder / "model.onnx", _FIX)
        self.dimension = int(manifest.get("dimension", self.dimension))
        self.fingerprint = str(manifest["files"]["model.onnx"])
        added = tokenizer.get_added_tokens_decoder().values()
        self._special = frozenset(t.content for t in added if t.special)
        self._tokenizer, self._session = tokenizer, session

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._encode(texts, with_tokens=False)[0]

    def encode_tokens(self, texts: Sequence[str]) -> tuple[NDArray[np.float32], list[TokenVectors]]:
        return self._encode(texts, with_tokens=True)

    def close(self) -> None:
        """Stop the worker threads (they are also stopped at exit)."""
        self._pool.close()

    def _encode(
        self, texts: Sequence[str], *, with_tokens: bool
    ) -> tuple[NDArray[np.float32], list[TokenVectors]]:
        self.load()
        sentences = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return sentences, []
        encodings = self._tokenizer.encode_batch(list(texts))
        # Longest first, so that no worker is left with a long text at the end.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        outputs = self._pool.map(lambda i: run_one(self._session, encodings[i]), order)
        tokens: list[TokenVectors] = [None] * len(texts)  # type: ignore[list-item]
        for i, hidden in zip(order, outputs, strict=True):
            pooled = hidden.mean(axis=0)
            sentences[i] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
            if with_tokens:
                tokens[i] = self._token_vectors(encodings[i].tokens, hidden)
        return sentences, tokens if with_tokens else []

    def _token_vectors(self, pieces: list[str], hidden: NDArray[np.float32]) -> TokenVectors:
        keep = [j for j, piece in enumerate(pieces) if piece not in self._special]
        kept = hidden[keep].astype(np.float32, copy=True)
        kept /= np.maximum(np.linalg.norm(kept, axis=1, keepdims=True), 1e-12)
        return TokenVectors(piece_words([pieces[j] for j in keep]), kept)
