"""examiner's answer checker: does a passage state a key point, contradict it, or neither?

A cross-encoder reads the point and the passage together, so it sees what a
cosine between two separate vectors cannot: a negation, a flipped direction,
the right words in a false claim, a paraphrase in other words. It starts from
the packaged MiniLM's weights and is fine-tuned by `scripts/train_checker.py`
on graded answers of other courses and on pairs drawn from rubrics; it ships
as package data (8-bit, ONNX) with a manifest holding each file's sha256.

It is asked only where it matters (`checking.check_answer`): each key point
the answer comes near against its closest segment, and the whole answer
against the reference. Its probabilities become signals of the calibration.

Like the embedder, one pair per run: 8-bit activations are quantised per
tensor, so padding a pair into a batch would change its verdict slightly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..errors import ModelLoadError
from .embedder import default_threads
from .onnx_embedder import RunPool, open_session, read_manifest, run_one

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "LABELS",
    "PACKAGED_CHECKER",
    "Checker",
    "PairChecker",
    "checker_input",
    "load_checker",
]

PACKAGED_CHECKER = Path(__file__).resolve().parents[1] / "data" / "checker"
LABELS = ("states", "contradicts", "neither")
_FIX = "reinstall examiner, or remake it with `python scripts/train_checker.py`"


class PairChecker(Protocol):
    """What grading asks of a checker: probabilities (states, contradicts, neither) per pair."""

    def check(self, pairs: Sequence[tuple[str, str]]) -> NDArray[np.float64]: ...


def checker_input(question: str, point: str) -> str:
    """The first text of a pair: what the passage is checked against, with its question.

    The question is there because a short passage ("it gets smaller") means
    something only against it. Training and grading build it here, the same way.
    """
    return f"{' '.join(point.split())} [question] {' '.join(question.split())}"


class Checker:
    """The packaged checker through ONNX Runtime; loaded on first use.

    `threads`: how many pairs run at once, each on one core.
    """

    def __init__(self, folder: Path | None = None, *, threads: int | None = None) -> None:
        self.folder = folder or PACKAGED_CHECKER
        self.threads = threads or default_threads()
        self._session: Any = None
        self._tokenizer: Any = None
        self._pool = RunPool(self.threads, "examiner-checker")
        self.name = "examiner-checker"
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
                f"the answer checker needs onnxruntime and tokenizers ({exc}): "
                "`pip install onnxruntime tokenizers`"
            ) from exc
        if tuple(manifest.get("labels", ())) != LABELS:
            raise ModelLoadError(
                f"the answer checker in {self.folder} gives {manifest.get('labels')}, "
                f"examiner reads {list(LABELS)}: {_FIX}"
            )
        tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tokenizer.enable_truncation(int(manifest["max_seq_length"]), strategy="longest_first")
        tokenizer.no_padding()
        session = open_session(self.folder / "model.onnx", _FIX)
        self.name = str(manifest.get("model", self.name))
        self.fingerprint = str(manifest["files"]["model.onnx"])
        self._tokenizer, self._session = tokenizer, session

    def check(self, pairs: Sequence[tuple[str, str]]) -> NDArray[np.float64]:
        """Probabilities (states, contradicts, neither) for each (point input, passage) pair."""
        self.load()
        out = np.zeros((len(pairs), len(LABELS)), dtype=np.float64)
        if not pairs:
            return out
        encodings = self._tokenizer.encode_batch([(a, b) for a, b in pairs])
        order = sorted(range(len(pairs)), key=lambda i: -len(encodings[i].ids))
        logits = self._pool.map(lambda i: run_one(self._session, encodings[i]), order)
        for i, row in zip(order, logits, strict=True):
            z = np.asarray(row, dtype=np.float64)
            z = z - z.max()
            out[i] = np.exp(z) / np.exp(z).sum()
        return out

    def close(self) -> None:
        self._pool.close()


def load_checker(*, threads: int | None = None, folder: Path | None = None) -> Checker | None:
    """The packaged checker, or None where it is not installed (the grade then goes without)."""
    checker = Checker(folder, threads=threads)
    if not (checker.folder / "manifest.json").is_file():
        return None
    checker.load()
    return checker
