"""`Store`: one connection to an examiner database, and every read and write of its rows.

Why it is built this way:

- The schema is created and upgraded only by the steps in `migrations`, so a
  database written by any earlier examiner opens and upgrades in place.
- WAL journal mode with a busy timeout: `examiner review` or `examiner export`
  can read (and a teacher can record an override) while a run is writing.
- `UNIQUE(run_id, student_id, card_id, answer_id)` on grades makes "nothing
  graded twice in a run" a property of the file rather than of the code.
- Reviews are keyed by the *answer* (student, card, answer id and a hash of the
  text), not by a grade row, so an override survives re-runs of the same
  answer and lapses, correctly, when the student's answer changes.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import Problem, StoreError
from ..models import Grade
from .connection import connect, stream
from .identity import AnswerKey
from .migrations import MIGRATIONS, Migration, schema_version
from .queries import run_stats
from .records import (
    LATEST_SELECT,
    Review,
    ReviewAction,
    RunRecord,
    RunStats,
    RunStatus,
    StoredGrade,
    now_iso,
    run_from_row,
    stored_from_row,
)
from .reviews import insert_review

__all__ = ["DEFAULT_DB", "Store"]

DEFAULT_DB = Path("examiner.db")


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
        (review, runs, export): a typo in the path must not silently create an
        empty database. `migrations` is for tests that build old versions.
        """
        path = Path(path)
        return cls(connect(path, create=create, migrations=migrations), path)

    def schema_version(self) -> int:
        with self._lock:
            return schema_version(self._conn)

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
        yield from stream(self.path, sql, params)

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
                    now_iso(),
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
                    now_iso(),
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
        return run_from_row(rows[0]) if rows else None

    def run(self, run_id: int) -> RunRecord:
        rows = self._query("SELECT * FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise StoreError(f"{self.path}: no run {run_id} (`examiner runs` lists them)")
        return run_from_row(rows[0])

    def runs(self) -> list[RunRecord]:
        return [run_from_row(row) for row in self._query("SELECT * FROM runs ORDER BY id")]

    def latest_run(self) -> RunRecord | None:
        rows = self._query("SELECT * FROM runs ORDER BY id DESC LIMIT 1")
        return run_from_row(rows[0]) if rows else None

    def run_stats(self, run_id: int) -> RunStats:
        return self.all_run_stats([run_id]).get(run_id, RunStats())

    def all_run_stats(self, run_ids: Sequence[int] | None = None) -> dict[int, RunStats]:
        """Live counts per run, straight from the grades (runs still going included)."""
        return run_stats(self, run_ids)

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
                now_iso(),
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
        sql = LATEST_SELECT + " WHERE g.student_id = ? AND g.card_id = ?"
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
                found.append(stored_from_row(row))
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
        with self.transaction() as conn:
            return insert_review(conn, stored, action, score=score, note=note, author=author)


def _dumps(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), sort_keys=True, ensure_ascii=False, default=str)
