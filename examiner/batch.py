"""Grade a whole class into the store: resumable, idempotent, streaming.

A run is identified by what decides its grades: the rubric (hash of its
canonical JSON), the scorer, model and calibration, the caller's grading
settings (judge mode, judge model…), and the exact bytes of the submissions
file. Running the same thing again therefore

- resumes the run if it was interrupted (Ctrl-C, a crash, SIGKILL): answers it
  already stored are skipped, the rest graded;
- does nothing if it finished: nothing is graded twice;
- starts a new run if the rubric, the settings or any answer changed. The old
  run is kept. Answers that did not change are copied from the latest grade of
  the same answer under the same rubric and settings instead of being graded
  again (`reused_from` records where from), so every run holds its whole file
  and a one-word fix by one student costs one grading, not a class.

Grades are written in small transactions as they come out of
`Grader.grade_many` (every `commit_every` grades, or `flush_seconds`, whichever
comes first), so a killed process loses at most one uncommitted batch, which
is graded again on resume. Nothing holds the file in memory: submissions are
streamed and each is checked against the store as it passes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Problem, StoreError
from .formats.submissions import iter_submissions
from .models import Rubric, Submission
from .run_writer import MAX_PROBLEMS_KEPT, ProblemSink, RunSummary, RunWriter
from .scoring.grader import Grader
from .store.database import Store
from .store.identity import AnswerKey, answer_hash, canonical_hash, file_hash, rubric_hash
from .store.pending import (
    BatchRecord,
    PendingAnswer,
    batch_of,
    is_held,
    pending,
    pending_count,
    settle,
)

if TYPE_CHECKING:
    from .config import JudgeSettings
    from .judge.deferred import BatchJudge
    from .ray_engine import RayEngine

__all__ = [
    "MAX_PROBLEMS_KEPT",
    "RunIdentity",
    "RunSummary",
    "file_hash",
    "judge_identity",
    "run_batch",
]


Progress = Callable[[int], None]


@dataclass(frozen=True)
class RunIdentity:
    """Everything but the answers that decides the grades of a run."""

    rubric_hash: str
    calibration: dict[str, Any]
    models: dict[str, Any]
    settings: dict[str, Any]

    @property
    def config_hash(self) -> str:
        return canonical_hash(
            {
                "rubric": self.rubric_hash,
                "calibration": self.calibration.get("hash", ""),
                "models": self.models,
                "settings": self.settings,
            }
        )

    @classmethod
    def of(cls, grader: Grader, settings: Mapping[str, Any] | None = None) -> RunIdentity:
        """The identity of grading with `grader`; `settings`: whatever else changes a grade.

        The judge's part (mode, model, prompt version) is read from the grader,
        so every caller resumes the same run for the same judge; a `"judge"`
        key in `settings` replaces it.
        """
        from .judge.grading import with_weight

        scorer = grader.scorer  # loads the model: the real scorer (after fallback) counts
        cal = scorer.calibration
        judge_on = grader.judge_settings
        judge = judge_identity(None if judge_on is None else with_weight(judge_on, cal))
        models: dict[str, Any] = {"scorer": scorer.name, "model": scorer.model}
        checker = getattr(scorer, "checker", None)
        if checker is not None:
            models["checker"] = checker.fingerprint
        extra: dict[str, Any] = {}
        examples = getattr(scorer, "examples", None)
        if examples is not None:
            extra["examples"] = examples.fingerprint
        return cls(
            rubric_hash=rubric_hash(grader.rubric),
            calibration={
                "model": cal.model,
                "fitted_on": cal.fitted_on,
                # The judges' weights count through the judge's part, and only
                # for the judge in use (so the hash of a run without one is kept).
                "hash": canonical_hash(cal.model_dump(mode="json", exclude={"judge_weights"})),
            },
            models=models,
            settings={"judge": judge, **extra, **(settings or {})},
        )


def judge_identity(settings: JudgeSettings | None) -> dict[str, Any]:
    """What of the judge's settings changes a grade (so a change starts a new run).

    Without a judge (None, or mode `off`) the model is None: a judge model that
    is configured but not used does not change a grade. The prompt version is
    kept even then, so that runs stored before this was computed here (by the
    CLI, in this shape) keep resuming.
    """
    from .judge.prompt import PROMPT_VERSION

    if settings is None or settings.mode == "off":
        return {"mode": "off", "model": None, "prompt": PROMPT_VERSION}
    judge: dict[str, Any] = {
        "mode": settings.mode,
        "model": settings.model,
        "prompt": PROMPT_VERSION,
    }
    if settings.weight is not None and settings.weight < 1.0:
        judge["weight"] = settings.weight  # at 1 it is the judge's score, as before weights
    return judge


def run_batch(
    store: Store,
    grader: Grader,
    rubric_path: str | Path,
    submissions_path: str | Path,
    *,
    settings: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    on_progress: Progress | None = None,
    on_problem: ProblemSink | None = None,
    commit_every: int = 64,
    flush_seconds: float = 2.0,
    judge_batch: BatchJudge | None = None,
    engine: RayEngine | None = None,
) -> RunSummary:
    """Grade a submissions file into `store`, resuming or skipping what is already there.

    `settings`: whatever else changes a grade, part of the run's identity
    with the rubric, scorer, calibration and the grader's judge (mode, model,
    prompt version: see `RunIdentity.of`). `options`: how the work is done
    (concurrency, rate limit); recorded but not part of the identity, so a
    resume with another concurrency continues the same run.
    `on_progress(n)` is called as rows are done (graded, reused, skipped or
    bad); `on_problem` with each bad row as it is met.

    Raises SubmissionsError before creating a run when the file cannot be read
    at all, and StoreError when another live process is writing the same run.
    On KeyboardInterrupt (or any error) the grades done so far are committed,
    the run is marked interrupted and the exception re-raised.

    `judge_batch`: the judge through a batch (`--judge-batch`) instead of the
    grader's live judge. The first call grades every answer's embedding
    stage, stores the final grades of the answers not routed to the judge,
    holds the routed ones and submits their batch: the summary says
    `waiting`. Later calls collect the batch when it is done (its grades
    stored, the run finished) and say `waiting` until then.

    `engine`: where the embedding stage runs (`--engine ray`: a Ray cluster's
    actors); the grades come back here in input order and are stored as ever.
    """
    started = time.perf_counter()
    shown = str(submissions_path)
    source = iter_submissions(submissions_path)  # a file that cannot be read fails here
    identity = RunIdentity.of(grader, settings)
    config_hash = identity.config_hash
    submissions_hash = file_hash(submissions_path)
    progress = on_progress or _ignore
    existing = store.find_run(config_hash, submissions_hash)

    if existing is not None and existing.status == "finished":
        del source  # nothing to read: dropping the generator closes the file
        return _finished_already(store, existing.id, progress, on_problem, started)
    if existing is not None:
        if existing.owner_alive() and existing.pid not in (None, os.getpid()):
            raise StoreError(
                f"run {existing.id} of these answers is being graded right now by process "
                f"{existing.pid}: wait for it, or stop it first"
            )
        if judge_batch is None and pending_count(store, existing.id):
            raise StoreError(
                f"run {existing.id} of these answers is waiting for its judge batch: run the "
                "same command with --judge-batch to collect it"
            )
        store.claim_run(existing.id)
        run_id = existing.id
    else:
        run_id = store.create_run(
            rubric_path=str(rubric_path),
            rubric_title=grader.rubric.title,
            rubric_hash=identity.rubric_hash,
            calibration=identity.calibration,
            models=identity.models,
            settings={"grading": identity.settings, "options": dict(options or {})},
            config_hash=config_hash,
            submissions_path=shown,
            submissions_hash=submissions_hash,
        )

    writer = RunWriter(store, run_id, shown, commit_every, flush_seconds, on_problem)
    new_run = existing is None
    try:
        if judge_batch is not None:
            record = batch_of(store, run_id)
            if record is not None:  # the answers were read and the batch sent: collect it
                del source
                return _collect(store, grader, judge_batch, record, writer, new_run, started)
        todo = _not_yet_graded(
            source, store, run_id, config_hash, grader.rubric, writer, progress, judge_batch
        )
        _grade_stream(grader, todo, shown, writer, progress, judge_batch, engine)
        writer.flush()
        if judge_batch is not None and pending_count(store, run_id):
            waiting = pending(store, run_id)
            run_key = f"{config_hash}:{submissions_hash}"
            record = judge_batch.submit(store, run_id, run_key, waiting).record
            return _collect(store, grader, judge_batch, record, writer, new_run, started)
    except BaseException:
        # Grades already made are complete and correct: keep them, so the
        # resume has less to do. Failing to, the resume simply regrades them.
        with suppress(Exception):
            writer.flush()
        with suppress(Exception):  # if this fails too, the dead owner marks the run resumable
            store.end_run(run_id, "interrupted")
        raise
    stats = store.end_run(run_id, "finished")
    return writer.summary(status="finished", new_run=new_run, stats=stats, started=started)


def _grade_stream(
    grader: Grader,
    todo: Iterable[Submission | Problem],
    source: str,
    writer: RunWriter,
    progress: Progress,
    judge_batch: BatchJudge | None,
    engine: RayEngine | None,
) -> None:
    """Grade the answers the run still needs; with a batch judge, hold the routed ones."""
    if judge_batch is None:
        for item in grader.grade_many(todo, source=source, engine=engine):
            if isinstance(item, Problem):
                writer.problem(item)
            else:
                writer.grade(item)
            progress(1)
        return
    for staged in (engine or grader).first_stage(todo, source=source):
        if isinstance(staged, Problem):
            writer.problem(staged)
        else:
            taken = judge_batch.take(*staged)
            if isinstance(taken, PendingAnswer):
                writer.hold(taken)
            else:
                writer.grade(taken)
        progress(1)


def _collect(
    store: Store,
    grader: Grader,
    judge_batch: BatchJudge,
    record: BatchRecord,
    writer: RunWriter,
    new_run: bool,
    started: float,
) -> RunSummary:
    """Collect the run's batch if it is done; either way, say where the run stands."""
    waiting = pending(store, record.run_id)
    outcome = judge_batch.collect(store, record, grader.rubric, waiting)
    if outcome.grades:
        settle(store, record.run_id, record.token, outcome.grades)
        writer.graded += len(outcome.grades)
        stats = store.end_run(record.run_id, "finished")
        writer.skipped = max(writer.skipped, stats.answers - len(outcome.grades))
        summary = writer.summary(status="finished", new_run=new_run, stats=stats, started=started)
        summary.batch = outcome.record
        return summary
    stats = store.end_run(record.run_id, "interrupted")  # nothing runs: run it again to go on
    summary = writer.summary(status="waiting", new_run=new_run, stats=stats, started=started)
    summary.waiting = len(waiting)
    summary.batch = outcome.record
    return summary


def _ignore(_: int) -> None:
    pass


def _finished_already(
    store: Store, run_id: int, progress: Progress, on_problem: ProblemSink | None, started: float
) -> RunSummary:
    """The answers and settings were graded before: report that run, grade nothing."""
    stats = store.run_stats(run_id)
    problems = store.problems(run_id)
    if on_problem is not None:
        for problem in problems:
            on_problem(problem)
    progress(stats.answers + len(problems))
    return RunSummary(
        run_id=run_id,
        status="finished",
        new_run=False,
        skipped=stats.answers,
        problems=problems[:MAX_PROBLEMS_KEPT],
        problem_count=len(problems),
        stats=stats,
        seconds=time.perf_counter() - started,
    )


def _not_yet_graded(
    source: Iterable[Submission | Problem],
    store: Store,
    run_id: int,
    config_hash: str,
    rubric: Rubric,
    writer: RunWriter,
    progress: Progress,
    judge_batch: BatchJudge | None = None,
) -> Iterator[Submission | Problem]:
    """The stream the grader sees: only answers that need grading, and bad rows.

    Answers this run already holds (graded, or waiting for the judge's batch)
    are skipped; answers graded before under the same rubric and settings are
    copied. Answers to unknown cards go through, so the grader reports them
    as it always does.
    """
    for item in source:
        if isinstance(item, Submission):
            try:
                card_id = rubric.card(item.card).id
            except KeyError:
                yield item
                continue
            key = AnswerKey(
                item.student_id, card_id, item.answer_id or "", answer_hash(item.answer)
            )
            held = store.stored_in_run(run_id, key)
            if held is not None:
                writer.held(item, card_id, held[0])
                progress(1)
                continue
            if judge_batch is not None and is_held(store, run_id, key):
                writer.skipped += 1  # waiting for the batch since an interrupted first pass
                progress(1)
                continue
            earlier = store.reusable_grade(config_hash, key)
            if earlier is not None:
                grade_id, grade = earlier
                writer.grade(grade.model_copy(update={"row": item.row}), reused_from=grade_id)
                progress(1)
                continue
        yield item
