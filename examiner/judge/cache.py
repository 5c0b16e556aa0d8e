"""A small SQLite cache of judge verdicts, so re-grading a class costs nothing twice.

The key is the sha256 of (model, prompt version, the rubric card as JSON,
the answer text): change any of them and the verdict is asked for again.
Only validated verdicts are stored (the model's JSON and the tokens it cost),
never a failure, never a key or a header. The file lives under
`EXAMINER_HOME` and holds quotes of students' answers: treat it like the
results themselves.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import StoreError
from ..models import RubricCard
from ..store.identity import sha256_hex
from ..store.migrations import Migration, apply_migrations

__all__ = ["CACHE_MIGRATIONS", "CachedVerdict", "VerdictCache", "cache_key"]

# The cache's schema, grown like the store's (see `examiner.store.migrations`).
# Released steps are never edited: append a new one.
CACHE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "verdicts",
        (
            # IF NOT EXISTS: caches written before the cache had migrations
            # hold this very table, and keep their verdicts.
            """CREATE TABLE IF NOT EXISTS verdicts (
                key TEXT PRIMARY KEY,
                model TEXT NOT NULL,
                prompt_version TEXT NOT NULL,
                card_id TEXT NOT NULL,
                verdict TEXT NOT NULL,
                tokens_in INTEGER NOT NULL,
                tokens_out INTEGER NOT NULL,
                created REAL NOT NULL
            )""",
        ),
    ),
)


def cache_key(model: str, prompt_version: str, card: RubricCard, answer: str) -> str:
    # This JSON's layout (default separators) is part of every stored key:
    # changing it would miss every verdict already cached.
    payload = json.dumps(
        [model, prompt_version, card.model_dump(mode="json"), answer],
        ensure_ascii=False,
        sort_keys=True,
    )
    return sha256_hex(payload)


# What a cache file held before it had migrations: step 1 takes it over.
_ADOPTED = frozenset({"verdicts"})


@dataclass(frozen=True)
class CachedVerdict:
    verdict: str
    tokens_in: int
    tokens_out: int


class VerdictCache:
    """Thread-safe get/put on one SQLite file (created on first use).

    A cache that cannot be opened or written (a read-only home, a locked or
    corrupt file) is switched off for the run, with the reason in `broken`:
    it costs calls, never grades.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.broken: str | None = None
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
            # WAL without a sync per commit: a lost verdict costs one call, not data.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            try:
                apply_migrations(conn, CACHE_MIGRATIONS, path=self.path, adopts=_ADOPTED)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def get(self, key: str) -> CachedVerdict | None:
        with self._lock:
            if self.broken:
                return None
            try:
                row = (
                    self._db()
                    .execute(
                        "SELECT verdict, tokens_in, tokens_out FROM verdicts WHERE key = ?", (key,)
                    )
                    .fetchone()
                )
            except (sqlite3.Error, OSError, StoreError) as exc:
                self._break(exc)
                return None
        return CachedVerdict(row[0], int(row[1]), int(row[2])) if row else None

    def contains(self, key: str) -> bool:
        return self.get(key) is not None

    def put(
        self,
        key: str,
        *,
        model: str,
        prompt_version: str,
        card_id: str,
        verdict: str,
        tokens_in: int,
        tokens_out: int,
    ) -> None:
        with self._lock:
            if self.broken:
                return
            try:
                db = self._db()
                db.execute(
                    "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        model,
                        prompt_version,
                        card_id,
                        verdict,
                        tokens_in,
                        tokens_out,
                        time.time(),
                    ),
                )
                db.commit()
            except (sqlite3.Error, OSError, StoreError) as exc:
                self._break(exc)

    def _break(self, exc: Exception) -> None:
        self.broken = f"judge cache {self.path} switched off: {exc}"
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
