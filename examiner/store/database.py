"""The SQLite store: runs, grades, human reviews and practice history.

One file (default `examiner.db`) holds everything a class-scale grading run
produces, so that a run can be interrupted and resumed, re-run without
re-grading, reviewed by a teacher and exported at any time.

Why it is built this way:

- The schema is created and upgraded only by `MIGRATIONS`, an append-only list
  of numbered steps recorded in `schema_migrations`: a database written by any
  earlier examiner opens and upgrades in place, and one written by a newer
  examiner is refused instead of being misread.
- WAL journal mode with a busy timeout: `examiner review` or `examiner export`
  can read (and a teacher can record an override) while a run is writing.
- `UNIQUE(run_id, student_id, card_id, answer_id)` on grades makes "nothing
  graded twice in a run" a property of the file rather than of the code.
- Reviews are keyed by the *answer* (student, card, answer id and a hash of the
  text), not by a grade row, so an override survives re-runs of the same
  answer and lapses, correctly, when the student's answer changes.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from .errors import ExaminerError, Problem
from .models import Flag, Grade, Rubric, label_for

__all__ = [
    "DEFAULT_DB",
    "MIGRATIONS",
    "REVIEW_FLAGS",
    "AnswerKey",
    "Migration",
    "Review",
    "ReviewAction",
    "RunRecord",
    "RunStats",
    "RunStatus",
    "Store",
    "StoreError",
    "StoredGrade",
    "answer_hash",
    "apply_review",
    "canonical_hash",
    "default_author",
    "is_review_flag",
    "latest_grades",
    "latest_records",
    "rubric_hash",
]

DEFAULT_DB = Path("examiner.db")
# Long enough for a reader to wait out a writer's commit (writers commit small
# batches), short enough that a stuck lock is reported instead of hanging.
BUSY_TIMEOUT_MS = 10_000

RunStatus = Literal["running", "finished", "interrupted"]
ReviewAction = Literal["accept", "override"]

# Flags that put a grade on the teacher's review list. Any flag whose name
# contains "disagree" (the judge stage's stage-disagreement flags) does too.
REVIEW_FLAGS = frozenset(
    {
        Flag.NEEDS_REVIEW.value,
        Flag.POSSIBLE_INJECTION.value,
        Flag.JUDGE_FAILED.value,
        Flag.POSSIBLE_CONTRADICTION.value,
    }
)


class StoreError(ExaminerError):
    """The database cannot be opened, is of an unknown version, or lacks what was asked."""


# --- migrations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """One schema step. Never edit a released step: append a new one."""

    version: int
    name: str
    statements: tuple[str, ...]


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
)


# --- identities ----------------------------------------------------------------------------


def canonical_hash(value: object) -> str:
    """sha256 of a value's canonical JSON: key order and whitespace never change it."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rubric_hash(rubric: Rubric) -> str:
    """What a grade depends on in a rubric; YAML comments and layout do not count."""
    return canonical_hash(rubric)


def answer_hash(answer: str) -> str:
    """The exact text: any edit by the student is a new answer, to be graded again."""
    return hashlib.sha256(answer.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AnswerKey:
    """One answer: who, to which card, which attempt, and what it says."""

    student_id: str
    card_id: str
    answer_id: str
    answer_hash: str

    @classmethod
    def of(cls, grade: Grade) -> AnswerKey:
        return cls(
            grade.student_id, grade.card_id, grade.answer_id or "", answer_hash(grade.answer)
        )


def default_author() -> str:
    """Who is reviewing: $USER, else the login name, else 'unknown'."""
    name = os.environ.get("USER") or os.environ.get("USERNAME")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): still record something
        return "unknown"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    """A row of `runs`, JSON columns decoded."""

    id: int
    started_at: str
    finished_at: str | None
    status: RunStatus
    rubric_path: str
    rubric_title: str
    rubric_hash: str
    calibration: dict[str, Any]
    models: dict[str, Any]
    settings: dict[str, Any]
    config_hash: str
    submissions_path: str
    submissions_hash: str
    totals: dict[str, Any]
    tokens_in: int
    tokens_out: int
    pid: int | None
    host: str | None

    def owner_alive(self) -> bool:
        """Whether the process that is writing this run is still running on this host."""
        if self.status != "running" or self.pid is None or self.host != socket.gethostname():
            return False
        if self.pid == os.getpid():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, owned by someone else
            return True
        return True

    @property
    def shown_status(self) -> str:
        """The status a person should see: a 'running' run whose process died has stopped."""
        if self.status == "running" and self.host == socket.gethostname():
            return "running" if self.owner_alive() else "stopped"
        return self.status


@dataclass
class RunStats:
    """What a run holds right now, counted from its grades (correct across resumes)."""

    answers: int = 0
    labels: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    flagged: int = 0
    scorers: dict[str, int] = field(default_factory=dict)
    reused: int = 0
    problems: int = 0
    tokens_in: int = 0
    tokens_out: int = 0

    def as_totals(self) -> dict[str, Any]:
        return {
            "answers": self.answers,
            "labels": self.labels,
            "flags": self.flags,
            "flagged": self.flagged,
            "scorers": self.scorers,
            "reused": self.reused,
            "problems": self.problems,
        }


@dataclass(frozen=True)
class Review:
    """A teacher's decision on one answer."""

    id: int
    action: ReviewAction
    score: float | None
    previous_score: float | None
    note: str
    author: str
    created_at: str


@dataclass(frozen=True)
class StoredGrade:
    """A grade as stored, with where it came from and its latest review."""

    grade_id: int
    run_id: int
    submission_id: int
    answer_hash: str
    grade: Grade
    review: Review | None

    @property
    def flags(self) -> list[str]:
        return [str(f) for f in self.grade.flags]


def is_review_flag(flag: str) -> bool:
    return flag in REVIEW_FLAGS or "disagree" in flag


def apply_review(grade: Grade, review: Review | None) -> Grade:
    """The grade as it stands after a teacher's review: the teacher wins.

    An override replaces score, points and label and says who changed it and
    why (in `notes`, which JSONL exports carry). Either kind of review settles
    the question, so `needs_review` is dropped; the other flags describe the
    answer and stay.
    """
    if review is None:
        return grade
    flags = [f for f in grade.flags if f != Flag.NEEDS_REVIEW]
    why = f": {review.note}" if review.note else ""
    if review.action == "accept" or review.score is None:
        note = f"accepted by {review.author}{why}"
        return grade.model_copy(update={"flags": flags, "notes": [*grade.notes, note]})
    score = review.score
    note = f"overridden by {review.author}{why} (was {grade.score:.2f})"
    return grade.model_copy(
        update={
            "score": score,
            "points": round(score * grade.max_points, 4),
            "label": label_for(score),
            "confidence": 1.0,
            "flags": flags,
            "notes": [*grade.notes, note],
        }
    )


# --- the store -----------------------------------------------------------------------------


class Store:
    """A connection to one examiner database, migrated to the current schema.

    Safe to share between threads (a lock serialises use of the connection):
    a grading pipeline may pull its input from a worker thread.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.RLock()

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path = DEFAULT_DB,
        *,
        create: bool = True,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> Store:
        """Open (and create or upgrade) a database.

        `create=False` is for commands that only make sense on existing results
        (review, runs, export): a typo in `--db` must not silently create an
        empty database. `migrations` is for tests that build old versions.
        """
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"{path}: is a directory, not a database file")
        if not create and not path.exists():
            raise StoreError(
                f"{path}: no such database; grade a class into it first, or pass --db FILE"
            )
        try:
            conn = sqlite3.connect(
                path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # transactions are explicit: see `transaction`
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the database: {exc}") from exc
        conn.row_factory = sqlite3.Row
        store = cls(conn, path)
        try:
            store._configure()
            store._migrate(migrations)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{path}: not an examiner database ({exc})") from exc
        except BaseException:
            conn.close()
            raise
        return store

    def _configure(self) -> None:
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._conn.execute("PRAGMA foreign_keys = ON")
        # WAL lets readers run while a run writes; NORMAL sync is still safe
        # against a killed process (only a power cut can lose the last commit).
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        for i, step in enumerate(migrations, 1):
            if step.version != i:
                raise ValueError(
                    f"migration {step.name!r} is numbered {step.version}, expected {i}"
                )
        tables = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master")}
        if tables and "schema_migrations" not in tables:
            raise StoreError(
                f"{self.path}: this SQLite file was not written by examiner; use another --db"
            )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        if self._check_applied(migrations) == len(migrations):
            return  # the common case: no write lock taken, so readers never wait
        for step in migrations:
            with self.transaction():
                # Re-read under the write lock: another process may have just migrated.
                if step.version <= self._check_applied(migrations):
                    continue
                for statement in step.statements:
                    self._conn.execute(statement)
                self._conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (step.version, step.name, _now()),
                )
                self._conn.execute(f"PRAGMA user_version = {step.version}")

    def _check_applied(self, migrations: Sequence[Migration]) -> int:
        """The version of the database, after checking this code can read it."""
        applied = {
            row[0]: row[1]
            for row in self._conn.execute("SELECT version, name FROM schema_migrations")
        }
        newest = max(applied, default=0)
        if newest > len(migrations):
            raise StoreError(
                f"{self.path}: written by a newer examiner (schema version {newest}; this one "
                f"knows up to {len(migrations)}): upgrade examiner to open it"
            )
        for step in migrations:
            if step.version in applied and applied[step.version] != step.name:
                raise StoreError(
                    f"{self.path}: schema step {step.version} is {applied[step.version]!r} "
                    f"here but {step.name!r} in this examiner: the database comes from an "
                    "incompatible version"
                )
        return newest

    def schema_version(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (IMMEDIATE) so it cannot deadlock later."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def fetch(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Rows of a read-only query, for modules that own tables of their own (practice)."""
        return self._query(sql, params)

    def _stream(self, sql: str, params: Sequence[object] = ()) -> Iterator[sqlite3.Row]:
        """Rows one at a time: an export of a million grades must not load them all.

        A separate connection, so that the caller may write (record a review)
        while iterating without disturbing the cursor.
        """
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            yield from conn.execute(sql, params)
        finally:
            conn.close()

    # -- runs ---------------------------------------------------------------------------

    def create_run(
        self,
        *,
        rubric_path: str,
        rubric_title: str,
        rubric_hash: str,
        calibration: Mapping[str, Any],
        models: Mapping[str, Any],
        settings: Mapping[str, Any],
        config_hash: str,
        submissions_path: str,
        submissions_hash: str,
    ) -> int:
        with self.transaction() as conn:
            cursor = conn.execute(
                """INSERT INTO runs (started_at, status, rubric_path, rubric_title, rubric_hash,
                    calibration, models, settings, config_hash, submissions_path,
                    submissions_hash, pid, host)
                   VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    _now(),
                    rubric_path,
                    rubric_title,
                    rubric_hash,
                    _dumps(calibration),
                    _dumps(models),
                    _dumps(settings),
                    config_hash,
                    submissions_path,
                    submissions_hash,
                    os.getpid(),
                    socket.gethostname(),
                ),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def claim_run(self, run_id: int) -> None:
        """Mark a run as being written by this process again (a resume)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = 'running', finished_at = NULL, pid = ?, host = ? "
                "WHERE id = ?",
                (os.getpid(), socket.gethostname(), run_id),
            )

    def end_run(self, run_id: int, status: RunStatus) -> RunStats:
        """Record how a run ended, with totals counted from what it stored."""
        stats = self.run_stats(run_id)
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, totals = ?, tokens_in = ?, "
                "tokens_out = ? WHERE id = ?",
                (
                    status,
                    _now(),
                    _dumps(stats.as_totals()),
                    stats.tokens_in,
                    stats.tokens_out,
                    run_id,
                ),
            )
        return stats

    def find_run(self, config_hash: str, submissions_hash: str) -> RunRecord | None:
        """The latest run of these answers with this rubric and these settings."""
        rows = self._query(
            "SELECT * FROM runs WHERE config_hash = ? AND submissions_hash = ? "
            "ORDER BY id DESC LIMIT 1",
            (config_hash, submissions_hash),
        )
        return _run(rows[0]) if rows else None

    def run(self, run_id: int) -> RunRecord:
        rows = self._query("SELECT * FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise StoreError(f"{self.path}: no run {run_id} (`examiner runs` lists them)")
        return _run(rows[0])

    def runs(self) -> list[RunRecord]:
        return [_run(row) for row in self._query("SELECT * FROM runs ORDER BY id")]

    def latest_run(self) -> RunRecord | None:
        rows = self._query("SELECT * FROM runs ORDER BY id DESC LIMIT 1")
        return _run(rows[0]) if rows else None

    def run_stats(self, run_id: int) -> RunStats:
        return self.all_run_stats([run_id]).get(run_id, RunStats())

    def all_run_stats(self, run_ids: Sequence[int] | None = None) -> dict[int, RunStats]:
        """Live counts per run, straight from the grades (runs still going included)."""
        where, params = "", list(run_ids or [])
        if run_ids is not None:
            where = f"WHERE run_id IN ({','.join('?' * len(params))})"
        stats: dict[int, RunStats] = {}
        for row in self._query(
            f"""SELECT run_id, label, scorer, flags, count(*) AS n,
                       sum(reused_from IS NOT NULL) AS reused,
                       sum(tokens_in) AS tin, sum(tokens_out) AS tout
                FROM grades {where} GROUP BY run_id, label, scorer, flags""",
            params,
        ):
            s = stats.setdefault(row["run_id"], RunStats())
            n = int(row["n"])
            s.answers += n
            s.labels[row["label"]] = s.labels.get(row["label"], 0) + n
            s.scorers[row["scorer"]] = s.scorers.get(row["scorer"], 0) + n
            s.reused += int(row["reused"])
            s.tokens_in += int(row["tin"])
            s.tokens_out += int(row["tout"])
            flags = json.loads(row["flags"])
            if flags:
                s.flagged += n
            for flag in flags:
                s.flags[flag] = s.flags.get(flag, 0) + n
        for row in self._query(
            f"SELECT run_id, count(*) AS n FROM problems {where} GROUP BY run_id", params
        ):
            stats.setdefault(row["run_id"], RunStats()).problems = int(row["n"])
        return stats

    # -- grades -------------------------------------------------------------------------

    def stored_in_run(self, run_id: int, key: AnswerKey) -> tuple[int | None, str] | None:
        """(source row, answer hash) of the grade a run holds for this answer slot, if any."""
        rows = self._query(
            "SELECT source_row, answer_hash FROM grades "
            "WHERE run_id = ? AND student_id = ? AND card_id = ? AND answer_id = ?",
            (run_id, key.student_id, key.card_id, key.answer_id),
        )
        return (rows[0]["source_row"], rows[0]["answer_hash"]) if rows else None

    def reusable_grade(self, config_hash: str, key: AnswerKey) -> tuple[int, Grade] | None:
        """The latest grade of exactly this answer under the same rubric and settings."""
        rows = self._query(
            """SELECT g.id, g.grade_json FROM grades g JOIN runs r ON r.id = g.run_id
               WHERE g.student_id = ? AND g.card_id = ? AND g.answer_id = ?
                 AND g.answer_hash = ? AND r.config_hash = ?
               ORDER BY g.id DESC LIMIT 1""",
            (key.student_id, key.card_id, key.answer_id, key.answer_hash, config_hash),
        )
        if not rows:
            return None
        return int(rows[0]["id"]), Grade.model_validate_json(rows[0]["grade_json"])

    def add_grades(
        self, run_id: int, items: Sequence[tuple[Grade, int | None]]
    ) -> list[int | None]:
        """Store grades (each with the grade it was reused from) in one transaction.

        Returns, per item, None when stored, or the source row of the grade the
        run already holds for that answer slot (the item was not stored).
        """
        results: list[int | None] = []
        with self.transaction() as conn:
            for grade, reused_from in items:
                results.append(self._add_grade(conn, run_id, grade, reused_from))
        return results

    def _add_grade(
        self, conn: sqlite3.Connection, run_id: int, grade: Grade, reused_from: int | None
    ) -> int | None:
        key = AnswerKey.of(grade)
        (submission_id,) = conn.execute(
            """INSERT INTO submissions
                   (student_id, card_id, answer_id, answer, answer_hash, source_row)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (student_id, card_id, answer_id, answer_hash)
               DO UPDATE SET source_row = source_row
               RETURNING id""",
            (key.student_id, key.card_id, key.answer_id, grade.answer, key.answer_hash, grade.row),
        ).fetchone()
        cursor = conn.execute(
            """INSERT INTO grades (run_id, submission_id, student_id, card_id, answer_id,
                   answer_hash, source_row, score, points, max_points, label, scorer,
                   confidence, flags, tokens_in, tokens_out, reused_from, grade_json, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (run_id, student_id, card_id, answer_id) DO NOTHING""",
            (
                run_id,
                submission_id,
                key.student_id,
                key.card_id,
                key.answer_id,
                key.answer_hash,
                grade.row,
                grade.score,
                grade.points,
                grade.max_points,
                grade.label,
                grade.scorer,
                grade.confidence,
                json.dumps([str(f) for f in grade.flags]),
                grade.tokens_in,
                grade.tokens_out,
                reused_from,
                grade.model_dump_json(),
                _now(),
            ),
        )
        if cursor.rowcount == 1:
            return None
        row = conn.execute(
            "SELECT source_row FROM grades "
            "WHERE run_id = ? AND student_id = ? AND card_id = ? AND answer_id = ?",
            (run_id, key.student_id, key.card_id, key.answer_id),
        ).fetchone()
        return -1 if row[0] is None else int(row[0])

    def add_problems(self, run_id: int, problems: Sequence[Problem]) -> None:
        """Record bad rows; the same problem met again on a resume is kept once."""
        if not problems:
            return
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO problems (run_id, path, line, field, message) "
                "VALUES (?, ?, ?, ?, ?)",
                [(run_id, p.path, p.line or 0, p.field or "", p.message) for p in problems],
            )

    def problems(self, run_id: int) -> list[Problem]:
        return [
            Problem(row["path"], row["line"] or None, row["message"], row["field"] or None)
            for row in self._query(
                "SELECT * FROM problems WHERE run_id = ? ORDER BY line, id", (run_id,)
            )
        ]

    def find_grades(
        self,
        student_id: str,
        card_id: str,
        *,
        answer_id: str | None = None,
        run_id: int | None = None,
    ) -> list[StoredGrade]:
        """The latest grade of each answer of one student to one card, newest first."""
        sql = _LATEST_SELECT + " WHERE g.student_id = ? AND g.card_id = ?"
        params: list[object] = [student_id, card_id]
        if answer_id is not None:
            sql += " AND g.answer_id = ?"
            params.append(answer_id)
        if run_id is not None:
            sql += " AND g.run_id = ?"
            params.append(run_id)
        sql += " ORDER BY g.id DESC"
        seen: set[str] = set()
        found: list[StoredGrade] = []
        for row in self._query(sql, params):
            if row["answer_id"] not in seen:
                seen.add(row["answer_id"])
                found.append(_stored(row))
        return found

    def cards_of(self, student_id: str) -> list[str]:
        rows = self._query(
            "SELECT DISTINCT card_id FROM grades WHERE student_id = ? ORDER BY card_id",
            (student_id,),
        )
        return [row["card_id"] for row in rows]

    # -- reviews ------------------------------------------------------------------------

    def add_review(
        self,
        stored: StoredGrade,
        action: ReviewAction,
        *,
        score: float | None = None,
        note: str = "",
        author: str | None = None,
    ) -> Review:
        """Record a teacher's accept or override of one answer's grade."""
        if action == "override" and (score is None or not 0 <= score <= 1):
            raise ValueError("an override needs a score in 0..1")
        grade = stored.grade
        who = author or default_author()
        created = _now()
        with self.transaction() as conn:
            cursor = conn.execute(
                """INSERT INTO reviews (submission_id, grade_id, student_id, card_id, answer_id,
                       answer_hash, action, score, previous_score, note, author, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    stored.submission_id,
                    stored.grade_id,
                    grade.student_id,
                    grade.card_id,
                    grade.answer_id or "",
                    stored.answer_hash,
                    action,
                    score if action == "override" else None,
                    grade.score,
                    note,
                    who,
                    created,
                ),
            )
            assert cursor.lastrowid is not None
        return Review(
            cursor.lastrowid,
            action,
            score if action == "override" else None,
            grade.score,
            note,
            who,
            created,
        )


# --- exports -------------------------------------------------------------------------------

# Each grade with the latest review of its answer (reviews follow the answer,
# not the grade row, so they carry over to re-runs).
_LATEST_SELECT = """
    SELECT g.id, g.run_id, g.submission_id, g.answer_id, g.answer_hash, g.grade_json,
           rv.id AS review_id, rv.action, rv.score AS review_score, rv.previous_score,
           rv.note, rv.author, rv.created_at AS reviewed_at
    FROM grades g
    LEFT JOIN reviews rv ON rv.id = (
        SELECT max(id) FROM reviews WHERE submission_id = g.submission_id)
"""


def latest_records(store: Store, run_id: int | None = None) -> Iterator[StoredGrade]:
    """Stored grades with their latest review, streamed.

    With `run_id`, that run's grades (a run holds every answer of its file,
    reused or graded). Without, the latest grade of each answer across every
    run of the rubric of the most recent run: the current gradebook of the
    class, whichever run or file each answer last came from.
    """
    if run_id is not None:
        store.run(run_id)  # a clear error for an unknown id
        sql = _LATEST_SELECT + " WHERE g.run_id = ? ORDER BY g.source_row, g.id"
        params: tuple[object, ...] = (run_id,)
    else:
        latest = store.latest_run()
        if latest is None:
            return
        sql = f"""
            WITH ranked AS (
                SELECT g.id, g.run_id, g.source_row, row_number() OVER (
                    PARTITION BY g.student_id, g.card_id, g.answer_id ORDER BY g.id DESC) AS rn
                FROM grades g JOIN runs r ON r.id = g.run_id WHERE r.rubric_hash = ?)
            {_LATEST_SELECT}
            JOIN ranked ON ranked.id = g.id AND ranked.rn = 1
            ORDER BY ranked.run_id, ranked.source_row, ranked.id"""
        params = (latest.rubric_hash,)
    for row in store._stream(sql, params):
        yield _stored(row)


def latest_grades(store: Store, run_id: int | None = None) -> Iterator[Grade]:
    """What to export: the latest grade per answer, teachers' reviews applied."""
    for stored in latest_records(store, run_id):
        yield apply_review(stored.grade, stored.review)


# --- row decoding --------------------------------------------------------------------------


def _dumps(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), sort_keys=True, ensure_ascii=False, default=str)


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        status=row["status"],
        rubric_path=row["rubric_path"],
        rubric_title=row["rubric_title"],
        rubric_hash=row["rubric_hash"],
        calibration=json.loads(row["calibration"]),
        models=json.loads(row["models"]),
        settings=json.loads(row["settings"]),
        config_hash=row["config_hash"],
        submissions_path=row["submissions_path"],
        submissions_hash=row["submissions_hash"],
        totals=json.loads(row["totals"]),
        tokens_in=row["tokens_in"],
        tokens_out=row["tokens_out"],
        pid=row["pid"],
        host=row["host"],
    )


def _stored(row: sqlite3.Row) -> StoredGrade:
    review = None
    if row["review_id"] is not None:
        review = Review(
            id=row["review_id"],
            action=row["action"],
            score=row["review_score"],
            previous_score=row["previous_score"],
            note=row["note"],
            author=row["author"],
            created_at=row["reviewed_at"],
        )
    return StoredGrade(
        grade_id=row["id"],
        run_id=row["run_id"],
        submission_id=row["submission_id"],
        answer_hash=row["answer_hash"],
        grade=Grade.model_validate_json(row["grade_json"]),
        review=review,
    )
