"""Schema migrations: numbered steps, each applied once, recorded in the file itself.

A database (or any SQLite file examiner owns, such as the judge cache) holds
a `schema_migrations` table listing the steps applied to it. Opening applies
the steps it lacks, in order, each in its own transaction, so a file written
by any earlier examiner upgrades in place; a file that records a step this
examiner does not know (a newer examiner wrote it) is refused instead of being
misread. This is how simonw/llm grows its logs database.

Released steps are never edited, renamed, reordered or removed: a file that
already applied a step would never see the change. To change a schema, append
a step. `tests/test_migrations.py` holds a hash of every released step.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# Nothing from the rest of the store: the judge cache grows its own schema by
# this mechanism too.
from ..errors import StoreError

__all__ = ["MIGRATIONS", "Migration", "apply_migrations", "schema_version"]


@dataclass(frozen=True)
class Migration:
    """One schema step. Never edit a released step: append a new one."""

    version: int
    name: str
    statements: tuple[str, ...]


def apply_migrations(
    conn: sqlite3.Connection,
    migrations: Sequence[Migration],
    *,
    path: str | Path,
    adopts: frozenset[str] = frozenset(),
    setting: str | None = None,
) -> int:
    """Bring the schema of `conn` up to the last of `migrations`; the version it is at.

    `adopts`: the tables of a file written before its schema had migrations,
    which the first step creates `IF NOT EXISTS` and so takes over, rows and
    all. Any other SQLite file without `schema_migrations` was not written by
    examiner and is refused. `setting` names the setting that chose the file,
    for the error's hint.
    """
    _check_numbering(migrations)
    _check_owned(conn, path, adopts, setting)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    if _check_applied(conn, migrations, path) == len(migrations):
        return len(migrations)  # the common case: no write lock taken, so readers never wait
    for step in migrations:
        with _immediate(conn):
            # Re-read under the write lock: another process may have just migrated.
            if step.version <= _check_applied(conn, migrations, path):
                continue
            for statement in step.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (step.version, step.name, datetime.now(UTC).isoformat(timespec="seconds")),
            )
            conn.execute(f"PRAGMA user_version = {step.version}")
    return len(migrations)


def schema_version(conn: sqlite3.Connection) -> int:
    """The last step applied to a migrated file."""
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def _check_numbering(migrations: Sequence[Migration]) -> None:
    for i, step in enumerate(migrations, 1):
        if step.version != i:
            raise ValueError(f"migration {step.name!r} is numbered {step.version}, expected {i}")


def _check_owned(
    conn: sqlite3.Connection, path: str | Path, adopts: frozenset[str], setting: str | None
) -> None:
    """Refuse a SQLite file that holds tables examiner did not make."""
    # `sqlite_*` objects (automatic indexes, sequences) belong to SQLite itself.
    found = conn.execute(
        "SELECT name, type FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    ).fetchall()
    names = {row[0] for row in found}
    tables = {row[0] for row in found if row[1] == "table"}
    if names and "schema_migrations" not in names and not (tables and tables <= adopts):
        raise StoreError(
            f"{path}: this SQLite file was not written by examiner; use another database file",
            setting=setting,
        )


def _check_applied(
    conn: sqlite3.Connection, migrations: Sequence[Migration], path: str | Path
) -> int:
    """The version of the file, after checking this code can read it."""
    applied = {
        row[0]: row[1] for row in conn.execute("SELECT version, name FROM schema_migrations")
    }
    newest = max(applied, default=0)
    if newest > len(migrations):
        raise StoreError(
            f"{path}: written by a newer examiner (schema version {newest}; this one "
            f"knows up to {len(migrations)}): upgrade examiner to open it"
        )
    for step in migrations:
        if step.version in applied and applied[step.version] != step.name:
            raise StoreError(
                f"{path}: schema step {step.version} is {applied[step.version]!r} "
                f"here but {step.name!r} in this examiner: the database comes from an "
                "incompatible version"
            )
    return newest


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taken at once so that two processes migrating cannot deadlock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# --- the store's released steps ------------------------------------------------------------
# Append-only: released steps are never edited (see the module's docstring).

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "runs, submissions, grades and reviews",
        (
            """CREATE TABLE runs (
                id INTEGER PRIMARY KEY,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted')),
                rubric_path TEXT NOT NULL,
                rubric_title TEXT NOT NULL DEFAULT '',
                rubric_hash TEXT NOT NULL,
                calibration TEXT NOT NULL DEFAULT '{}',
                models TEXT NOT NULL DEFAULT '{}',
                settings TEXT NOT NULL DEFAULT '{}',
                config_hash TEXT NOT NULL,
                submissions_path TEXT NOT NULL,
                submissions_hash TEXT NOT NULL,
                totals TEXT NOT NULL DEFAULT '{}',
                tokens_in INTEGER NOT NULL DEFAULT 0,
                tokens_out INTEGER NOT NULL DEFAULT 0,
                pid INTEGER,
                host TEXT
            )""",
            "CREATE INDEX runs_identity ON runs (config_hash, submissions_hash)",
            "CREATE INDEX runs_rubric ON runs (rubric_hash)",
            """CREATE TABLE submissions (
                id INTEGER PRIMARY KEY,
                student_id TEXT NOT NULL,
                card_id TEXT NOT NULL,
                answer_id TEXT NOT NULL DEFAULT '',
                answer TEXT NOT NULL,
                answer_hash TEXT NOT NULL,
                source_row INTEGER,
                UNIQUE (student_id, card_id, answer_id, answer_hash)
            )""",
            """CREATE TABLE grades (
                id INTEGER PRIMARY KEY,
                run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                submission_id INTEGER NOT NULL REFERENCES submissions (id),
                student_id TEXT NOT NULL,
                card_id TEXT NOT NULL,
                answer_id TEXT NOT NULL DEFAULT '',
                answer_hash TEXT NOT NULL,
                source_row INTEGER,
                score REAL NOT NULL CHECK (score BETWEEN 0 AND 1),
                points REAL NOT NULL,
                max_points REAL NOT NULL,
                label TEXT NOT NULL,
                scorer TEXT NOT NULL,
                confidence REAL NOT NULL,
                flags TEXT NOT NULL DEFAULT '[]',
                tokens_in INTEGER NOT NULL DEFAULT 0,
                tokens_out INTEGER NOT NULL DEFAULT 0,
                reused_from INTEGER REFERENCES grades (id),
                grade_json TEXT NOT NULL,
                created_at TEXT NOT NULL,
                UNIQUE (run_id, student_id, card_id, answer_id)
            )""",
            "CREATE INDEX grades_answer ON grades (student_id, card_id, answer_id, answer_hash)",
            "CREATE INDEX grades_submission ON grades (submission_id)",
            """CREATE TABLE reviews (
                id INTEGER PRIMARY KEY,
                submission_id INTEGER NOT NULL REFERENCES submissions (id),
                grade_id INTEGER REFERENCES grades (id) ON DELETE SET NULL,
                student_id TEXT NOT NULL,
                card_id TEXT NOT NULL,
                answer_id TEXT NOT NULL DEFAULT '',
                answer_hash TEXT NOT NULL,
                action TEXT NOT NULL CHECK (action IN ('accept', 'override')),
                score REAL CHECK (score IS NULL OR score BETWEEN 0 AND 1),
                previous_score REAL,
                note TEXT NOT NULL DEFAULT '',
                author TEXT NOT NULL,
                created_at TEXT NOT NULL
            )""",
            "CREATE INDEX reviews_submission ON reviews (submission_id)",
        ),
    ),
    Migration(
        2,
        "problems: bad rows of each run",
        (
            """CREATE TABLE problems (
                id INTEGER PRIMARY KEY,
                run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                path TEXT NOT NULL,
                line INTEGER NOT NULL DEFAULT 0,
                field TEXT NOT NULL DEFAULT '',
                message TEXT NOT NULL,
                UNIQUE (run_id, line, field, message)
            )""",
        ),
    ),
    Migration(
        3,
        "practice history",
        (
            """CREATE TABLE practice (
                id INTEGER PRIMARY KEY,
                student_id TEXT NOT NULL DEFAULT 'me',
                rubric_hash TEXT NOT NULL DEFAULT '',
                card_id TEXT NOT NULL,
                reviewed_at TEXT NOT NULL,
                rating INTEGER,
                score REAL CHECK (score IS NULL OR score BETWEEN 0 AND 1),
                due_at TEXT,
                state TEXT NOT NULL DEFAULT '{}'
            )""",
            "CREATE INDEX practice_due ON practice (student_id, due_at)",
            "CREATE INDEX practice_card ON practice (student_id, card_id, reviewed_at)",
        ),
    ),
    Migration(
        4,
        "practice: rubric key, answer, grade, suggested rating, hints",
        (
            # Keyed by the rubric's name, not its hash: history must survive
            # edits to a rubric that keep its card ids.
            "ALTER TABLE practice ADD COLUMN rubric TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE practice ADD COLUMN answer TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE practice ADD COLUMN grade_json TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE practice ADD COLUMN suggested INTEGER",
            "ALTER TABLE practice ADD COLUMN hints INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE practice ADD COLUMN duration_ms INTEGER",
            "CREATE INDEX practice_rubric ON practice (student_id, rubric, card_id, reviewed_at)",
        ),
    ),
    Migration(
        5,
        "judge batches: answers waiting for the OpenAI Batch API",
        (
            # A run whose judge works through the Batch API ends its first
            # invocation 'interrupted' (nothing runs; run it again to go on)
            # with its routed answers here: the embedding grade, which stands
            # if the judge fails, and the request sent for it.
            """CREATE TABLE judge_batches (
                id INTEGER PRIMARY KEY,
                run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                token TEXT NOT NULL,
                state TEXT NOT NULL,
                batch_id TEXT,
                input_file_id TEXT,
                output_file_id TEXT,
                error_file_id TEXT,
                requests INTEGER NOT NULL DEFAULT 0,
                counts TEXT NOT NULL DEFAULT '{}',
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                UNIQUE (run_id, token)
            )""",
            """CREATE TABLE judge_pending (
                id INTEGER PRIMARY KEY,
                run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                custom_id TEXT NOT NULL,
                student_id TEXT NOT NULL,
                card_id TEXT NOT NULL,
                answer_id TEXT NOT NULL DEFAULT '',
                source_row INTEGER,
                grade_json TEXT NOT NULL,
                request_json TEXT NOT NULL,
                UNIQUE (run_id, student_id, card_id, answer_id)
            )""",
            "CREATE INDEX judge_pending_request ON judge_pending (run_id, custom_id)",
        ),
    ),
)
