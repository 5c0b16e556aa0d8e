"""Writing a run's results into the store: grades, waiting answers, bad rows.

`RunWriter` buffers what `run_batch` produces and writes it in short
transactions; `RunSummary` is what a call of `run_batch` did.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from .errors import Problem
from .models import Grade, Submission
from .store.database import Store
from .store.pending import BatchRecord, PendingAnswer, hold
from .store.records import RunStats, RunStatus

__all__ = ["MAX_PROBLEMS_KEPT", "ProblemSink", "RunSummary", "RunWriter"]

# Problems are streamed to `on_problem` and all stored; the summary keeps the
# first few so that a file of nothing but bad rows cannot fill memory.
MAX_PROBLEMS_KEPT = 1000

ProblemSink = Callable[[Problem], None]


@dataclass
class RunSummary:
    """What `run_batch` did, and what the run holds now."""

    run_id: int
    status: RunStatus | Literal["waiting"]  # waiting: for the judge's batch (--judge-batch)
    new_run: bool = True  # False: an earlier run of the same identity was continued
    graded: int = 0  # answers graded by this call
    reused: int = 0  # answers copied from an earlier run (same answer, rubric and settings)
    skipped: int = 0  # answers the run already held before this call
    problems: list[Problem] = field(default_factory=list)  # the first MAX_PROBLEMS_KEPT
    problem_count: int = 0  # bad rows met by this call
    stats: RunStats = field(default_factory=RunStats)  # the whole run, counted from the store
    seconds: float = 0.0
    waiting: int = 0  # answers waiting for the judge's batch
    batch: BatchRecord | None = None  # the run's batch, with --judge-batch


class RunWriter:
    """Buffers a run's results and writes them in short transactions.

    Short, so that a teacher recording a review in another process never waits
    long for the write lock; frequent, so that a killed run loses little.
    """

    def __init__(
        self,
        store: Store,
        run_id: int,
        source: str,
        commit_every: int,
        flush_seconds: float,
        on_problem: ProblemSink | None,
    ) -> None:
        self._store = store
        self._run_id = run_id
        self._source = source
        self._commit_every = max(1, commit_every)
        self._flush_seconds = flush_seconds
        self._on_problem = on_problem
        self._grades: list[tuple[Grade, int | None]] = []
        self._held: list[PendingAnswer] = []
        self._problems: list[Problem] = []
        self._last_flush = time.monotonic()
        self.graded = 0
        self.reused = 0
        self.skipped = 0
        self.kept_problems: list[Problem] = []
        self.problem_count = 0

    def grade(self, grade: Grade, reused_from: int | None = None) -> None:
        self._grades.append((grade, reused_from))
        self._maybe_flush()

    def problem(self, problem: Problem) -> None:
        self._note_problem(problem)
        self._maybe_flush()

    def hold(self, answer: PendingAnswer) -> None:
        """An answer that waits for the judge's batch."""
        self._held.append(answer)
        self._maybe_flush()

    def held(self, sub: Submission, card_id: str, held_row: int | None) -> None:
        """The run already holds a grade for this answer's slot."""
        if held_row == sub.row:
            self.skipped += 1  # stored before an interruption
        else:
            self.problem(self._duplicate(sub.student_id, card_id, sub.row, held_row))

    def flush(self) -> None:
        held, self._held = self._held, []
        hold(self._store, self._run_id, held)
        grades, self._grades = self._grades, []
        if grades:
            clashes = self._store.add_grades(self._run_id, grades)
            for (grade, reused_from), clash in zip(grades, clashes, strict=True):
                if clash is None:
                    if reused_from is None:
                        self.graded += 1
                    else:
                        self.reused += 1
                elif clash == grade.row:
                    self.skipped += 1  # stored meanwhile by another writer of this run
                else:
                    self._note_problem(
                        self._duplicate(grade.student_id, grade.card_id, grade.row, clash)
                    )
        problems, self._problems = self._problems, []
        self._store.add_problems(self._run_id, problems)
        self._last_flush = time.monotonic()

    def summary(
        self,
        *,
        status: RunStatus | Literal["waiting"],
        new_run: bool,
        stats: RunStats,
        started: float,
    ) -> RunSummary:
        return RunSummary(
            run_id=self._run_id,
            status=status,
            new_run=new_run,
            graded=self.graded,
            reused=self.reused,
            skipped=self.skipped,
            problems=self.kept_problems,
            problem_count=self.problem_count,
            stats=stats,
            seconds=time.perf_counter() - started,
        )

    def _maybe_flush(self) -> None:
        if (
            len(self._grades) + len(self._held) >= self._commit_every
            or time.monotonic() - self._last_flush >= self._flush_seconds
        ):
            self.flush()

    def _note_problem(self, problem: Problem) -> None:
        self._problems.append(problem)
        self.problem_count += 1
        if len(self.kept_problems) < MAX_PROBLEMS_KEPT:
            self.kept_problems.append(problem)
        if self._on_problem is not None:
            self._on_problem(problem)

    def _duplicate(
        self, student_id: str, card_id: str, row: int | None, first_row: int | None
    ) -> Problem:
        first = f"line {first_row}" if first_row and first_row > 0 else "an earlier row"
        return Problem(
            self._source,
            row,
            f"a second answer from {student_id!r} to card {card_id!r} (the first is at "
            f"{first}); only the first is kept: give each answer its own answer_id to keep both",
            "student_id",
        )
