"""Answers waiting for the judge's batch, and the batches themselves (`--judge-batch`).

A run graded through the OpenAI Batch API keeps, for every answer routed to
the judge, its embedding grade and the request made for it
(`judge_pending`), and one row per batch submitted (`judge_batches`). The
answers leave `judge_pending` only when their final grades are stored, so a
process killed at any point leaves each answer either waiting or graded,
never lost and never both for long (a repeat of the settling is a no-op).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..models import Grade
from .database import Store
from .identity import AnswerKey
from .records import now_iso

__all__ = [
    "BatchRecord",
    "PendingAnswer",
    "batch_of",
    "hold",
    "is_held",
    "open_batches",
    "pending",
    "pending_count",
    "record_batch",
    "settle",
]


@dataclass(frozen=True)
class PendingAnswer:
    """An answer waiting for its verdict: the grade that stands meanwhile, and its request."""

    custom_id: str
    grade: Grade
    request: dict[str, Any]


@dataclass(frozen=True)
class BatchRecord:
    """A batch of a run: examiner's token for it, and the API's last word on it."""

    id: int
    run_id: int
    token: str
    state: str
    batch_id: str | None
    input_file_id: str | None
    output_file_id: str | None
    error_file_id: str | None
    requests: int
    counts: dict[str, int] = field(default_factory=dict)
    updated_at: str = ""

    @property
    def collected(self) -> bool:
        return self.state == "collected"

    def describe(self) -> str:
        """One phrase for `examiner runs`: the batch's state and how far it got."""
        if self.state == "written":
            return f"batch of {self.requests} requests written to {self.input_file_id}"
        done = self.counts.get("completed", 0) + self.counts.get("failed", 0)
        name = self.batch_id or "not yet created"
        return f"batch {name}: {self.state}, {done}/{self.requests} answered"


def hold(store: Store, run_id: int, answers: Sequence[PendingAnswer]) -> None:
    """Keep routed answers until their batch is collected (a resume holds each once)."""
    if not answers:
        return
    with store.transaction() as conn:
        conn.executemany(
            """INSERT INTO judge_pending (run_id, custom_id, student_id, card_id, answer_id,
                   source_row, grade_json, request_json)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (run_id, student_id, card_id, answer_id) DO NOTHING""",
            [
                (
                    run_id,
                    a.custom_id,
                    a.grade.student_id,
                    a.grade.card_id,
                    a.grade.answer_id or "",
                    a.grade.row,
                    a.grade.model_dump_json(),
                    json.dumps(a.request, ensure_ascii=False, sort_keys=True),
                )
                for a in answers
            ],
        )


def is_held(store: Store, run_id: int, key: AnswerKey) -> bool:
    rows = store.fetch(
        "SELECT 1 FROM judge_pending "
        "WHERE run_id = ? AND student_id = ? AND card_id = ? AND answer_id = ?",
        (run_id, key.student_id, key.card_id, key.answer_id),
    )
    return bool(rows)


def pending(store: Store, run_id: int) -> list[PendingAnswer]:
    """The run's waiting answers, in the order they were held."""
    rows = store.fetch(
        "SELECT custom_id, grade_json, request_json FROM judge_pending "
        "WHERE run_id = ? ORDER BY id",
        (run_id,),
    )
    return [
        PendingAnswer(
            r["custom_id"],
            Grade.model_validate_json(r["grade_json"]),
            json.loads(r["request_json"]),
        )
        for r in rows
    ]


def pending_count(store: Store, run_id: int) -> int:
    rows = store.fetch("SELECT count(*) AS n FROM judge_pending WHERE run_id = ?", (run_id,))
    return int(rows[0]["n"])


def record_batch(
    store: Store,
    run_id: int,
    token: str,
    *,
    state: str,
    requests: int,
    batch_id: str | None = None,
    input_file_id: str | None = None,
    output_file_id: str | None = None,
    error_file_id: str | None = None,
    counts: Mapping[str, int] | None = None,
) -> BatchRecord:
    """Create or update the run's batch named `token`; ids once known are never erased."""
    with store.transaction() as conn:
        conn.execute(
            """INSERT INTO judge_batches (run_id, token, state, batch_id, input_file_id,
                   output_file_id, error_file_id, requests, counts, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (run_id, token) DO UPDATE SET
                   state = excluded.state,
                   batch_id = coalesce(excluded.batch_id, batch_id),
                   input_file_id = coalesce(excluded.input_file_id, input_file_id),
                   output_file_id = coalesce(excluded.output_file_id, output_file_id),
                   error_file_id = coalesce(excluded.error_file_id, error_file_id),
                   requests = excluded.requests,
                   counts = excluded.counts,
                   updated_at = excluded.updated_at""",
            (
                run_id,
                token,
                state,
                batch_id,
                input_file_id,
                output_file_id,
                error_file_id,
                requests,
                json.dumps(dict(counts or {})),
                now_iso(),
                now_iso(),
            ),
        )
        row = conn.execute(
            "SELECT * FROM judge_batches WHERE run_id = ? AND token = ?", (run_id, token)
        ).fetchone()
    return _batch_from_row(row)


def batch_of(store: Store, run_id: int) -> BatchRecord | None:
    """The run's latest batch that is not collected yet."""
    rows = store.fetch(
        "SELECT * FROM judge_batches WHERE run_id = ? AND state != 'collected' "
        "ORDER BY id DESC LIMIT 1",
        (run_id,),
    )
    return _batch_from_row(rows[0]) if rows else None


def open_batches(store: Store) -> dict[int, BatchRecord]:
    """Every run's batch still to collect, by run id (for `examiner runs`)."""
    rows = store.fetch("SELECT * FROM judge_batches WHERE state != 'collected' ORDER BY id")
    return {int(r["run_id"]): _batch_from_row(r) for r in rows}


def settle(store: Store, run_id: int, token: str, grades: Sequence[Grade]) -> None:
    """Store the final grades of the waiting answers, then let them and the batch go.

    Two transactions: killed between them, the answers are still waiting and
    a rerun settles them again, the store keeping the grades it already has.
    """
    store.add_grades(run_id, [(g, None) for g in grades])
    with store.transaction() as conn:
        conn.execute("DELETE FROM judge_pending WHERE run_id = ?", (run_id,))
        conn.execute(
            "UPDATE judge_batches SET state = 'collected', updated_at = ? "
            "WHERE run_id = ? AND token = ?",
            (now_iso(), run_id, token),
        )


def _batch_from_row(row: sqlite3.Row) -> BatchRecord:
    return BatchRecord(
        id=int(row["id"]),
        run_id=int(row["run_id"]),
        token=row["token"],
        state=row["state"],
        batch_id=row["batch_id"],
        input_file_id=row["input_file_id"],
        output_file_id=row["output_file_id"],
        error_file_id=row["error_file_id"],
        requests=int(row["requests"]),
        counts=json.loads(row["counts"] or "{}"),
        updated_at=row["updated_at"],
    )
