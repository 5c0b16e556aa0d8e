"""Reads across runs: the current grade of every answer, and live counts per run."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ..models import Grade
from .records import LATEST_SELECT, RunStats, StoredGrade, stored_from_row
from .reviews import apply_review

if TYPE_CHECKING:
    from .database import Store

__all__ = ["latest_grades", "latest_records", "run_stats"]


def latest_records(store: Store, run_id: int | None = None) -> Iterator[StoredGrade]:
    """Stored grades with their latest review, streamed.

    With `run_id`, that run's grades (a run holds every answer of its file,
    reused or graded). Without, the latest grade of each answer across every
    run of the rubric of the most recent run: the current gradebook of the
    class, whichever run or file each answer last came from.
    """
    if run_id is not None:
        store.run(run_id)  # a clear error for an unknown id
        sql = LATEST_SELECT + " WHERE g.run_id = ? ORDER BY g.source_row, g.id"
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
            {LATEST_SELECT}
            JOIN ranked ON ranked.id = g.id AND ranked.rn = 1
            ORDER BY ranked.run_id, ranked.source_row, ranked.id"""
        params = (latest.rubric_hash,)
    for row in store._stream(sql, params):
        yield stored_from_row(row)


def latest_grades(store: Store, run_id: int | None = None) -> Iterator[Grade]:
    """What to export: the latest grade per answer, teachers' reviews applied."""
    for stored in latest_records(store, run_id):
        yield apply_review(stored.grade, stored.review)


def run_stats(store: Store, run_ids: Sequence[int] | None = None) -> dict[int, RunStats]:
    """Live counts per run (all runs, or `run_ids`), straight from the grades.

    Counted rather than read from `runs.totals`, so runs still going (or
    killed) count what they hold.
    """
    where, params = "", list(run_ids or [])
    if run_ids is not None:
        where = f"WHERE run_id IN ({','.join('?' * len(params))})"
    stats: dict[int, RunStats] = {}
    for row in store.fetch(
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
    for row in store.fetch(
        f"SELECT run_id, count(*) AS n FROM problems {where} GROUP BY run_id", params
    ):
        stats.setdefault(row["run_id"], RunStats()).problems = int(row["n"])
    return stats
