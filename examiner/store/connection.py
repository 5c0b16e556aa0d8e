"""Opening a SQLite file as an examiner database: checks, pragmas, migrations, errors.

Every failure to open becomes a `StoreError` that names the file, so a
wrong path, a directory, a foreign or corrupt file or one from a newer
examiner is one clear message, never a traceback.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import StoreError
from .migrations import Migration, apply_migrations

__all__ = ["BUSY_TIMEOUT_MS", "connect", "stream"]

# Long enough for a reader to wait out a writer's commit (writers commit small
# batches), short enough that a stuck lock is reported instead of hanging.
BUSY_TIMEOUT_MS = 10_000


def connect(path: Path, *, create: bool, migrations: Sequence[Migration]) -> sqlite3.Connection:
    """A connection to the database at `path`, created or upgraded to `migrations`.

    `create=False` refuses a file that does not exist: a typo in a path must
    not silently create an empty database.
    """
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a database file", setting="db")
    if not create and not path.exists():
        raise StoreError(
            f"{path}: no such database; grade a class into it first, or name another one",
            setting="db",
        )
    try:
        conn = sqlite3.connect(
            path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # transactions are explicit: see `Store.transaction`
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the database: {exc}", setting="db") from exc
    conn.row_factory = sqlite3.Row
    try:
        _configure(conn)
        apply_migrations(conn, migrations, path=path, setting="db")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{path}: not an examiner database ({exc})", setting="db") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    # WAL lets readers run while a run writes; NORMAL sync is still safe
    # against a killed process (only a power cut can lose the last commit).
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")


def stream(path: Path, sql: str, params: Sequence[object] = ()) -> Iterator[sqlite3.Row]:
    """Rows of a read-only query one at a time, on a connection of their own.

    Its own, so that the caller may write (record a review) while iterating
    without disturbing the cursor.
    """
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        yield from conn.execute(sql, params)
    finally:
        conn.close()
