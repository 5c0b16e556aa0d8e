"""Sentence vectors of rubric texts, kept on disk between runs.

A rubric is encoded whole before its first answer is graded (each card's
answers are compared with the other cards' key points), which is most of
what one `examiner grade --card … --answer …` costs. Its texts do not change
between runs, so their vectors are kept in `$EXAMINER_HOME/cache/vectors.sqlite`,
keyed by the model file's sha256 and the text's: a run after the first reads
them back instead of encoding them again, and the vectors are the same either
way (each text is encoded on its own).

Only rubric texts (key points, misconceptions, questions) are kept, never a
student's answer. The cache is an optimisation: if it cannot be opened, read
or written (a read-only home, a damaged file), grading goes on without it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..config import examiner_home

__all__ = ["VectorCache", "default_vector_cache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, text_sha256)
)
"""


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class VectorCache:
    """float32 sentence vectors of one model, by text, in a SQLite file."""

    def __init__(self, path: Path, model: str) -> None:
        self.path = path
        self.model = model

    def encode(
        self, texts: Sequence[str], encode: Callable[[Sequence[str]], NDArray[np.float32]]
    ) -> NDArray[np.float32]:
        """The vectors of `texts`: those kept, and `encode` for the rest (then kept)."""
        keys = [_key(t) for t in texts]
        found = self._read(set(keys))
        first: dict[str, int] = {}
        for i, k in enumerate(keys):
            first.setdefault(k, i)
        missing = [i for k, i in first.items() if k not in found]  # each text once, in order
        if missing:
            fresh = encode([texts[i] for i in missing])
            for row, i in enumerate(missing):
                found[keys[i]] = fresh[row]
            self._write([(keys[i], fresh[row]) for row, i in enumerate(missing)])
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=5)
        conn.execute(_SCHEMA)
        return conn

    def _read(self, keys: set[str]) -> dict[str, NDArray[np.float32]]:
        if not keys:
            return {}
        wanted = sorted(keys)
        rows: list[tuple[str, bytes]] = []
        try:
            with self._connect() as conn:
                for start in range(0, len(wanted), 500):  # SQLite's limit on parameters
                    chunk = wanted[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    rows += conn.execute(
                        "SELECT text_sha256, vector FROM vectors "
                        f"WHERE model = ? AND text_sha256 IN ({marks})",
                        (self.model, *chunk),
                    ).fetchall()
        except (sqlite3.Error, OSError):
            return {}
        return {k: np.frombuffer(v, dtype=np.float32).copy() for k, v in rows}

    def _write(self, rows: list[tuple[str, NDArray[np.float32]]]) -> None:
        try:
            with self._connect() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO vectors (model, text_sha256, vector) VALUES (?, ?, ?)",
                    [(self.model, k, np.asarray(v, np.float32).tobytes()) for k, v in rows],
                )
        except (sqlite3.Error, OSError):
            pass  # an optimisation only: the vectors were computed, grading goes on


def default_vector_cache(model_fingerprint: str) -> VectorCache | None:
    """The cache under `$EXAMINER_HOME`, for a model known by its file's sha256."""
    if not model_fingerprint:
        return None
    return VectorCache(examiner_home() / "cache" / "vectors.sqlite", model_fingerprint)
