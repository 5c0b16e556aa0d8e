"""`examiner grade`: one answer on screen, or a whole submissions file."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import Problem
from ._app import app, err, escape, out, reports_errors
from .grade_engine import AddressOpt, EngineOpt, make_engine
from .grade_judge import (
    BatchRequestsOpt,
    BatchResultsOpt,
    JudgeBatchOpt,
    PollOpt,
    WaitOpt,
    check_batch_options,
    dry_run_batch,
    dry_run_live,
    polled,
    report_waiting,
    usage_line,
)
from .options import (
    ApiKeyOpt,
    BaseUrlOpt,
    CalibrationOpt,
    CheckerOpt,
    ExamplesOpt,
    JudgeModelOpt,
    JudgeOpt,
    ModelOpt,
    ReviewExamplesOpt,
    RubricArg,
    ScorerOpt,
    ThreadsOpt,
    check_scorer,
    make_grader,
    open_db,
    read_answer,
)

if TYPE_CHECKING:
    from rich.progress import Progress

    from ..models import Rubric
    from ..scoring.examples import GradedExample


@app.command()
@reports_errors
def grade(
    rubric: RubricArg,
    submissions: Annotated[
        Path | None,
        typer.Argument(help="Submissions CSV or JSONL (student_id, card, answer)."),
    ] = None,
    card: Annotated[
        str | None, typer.Option(help="Grade one answer to this card (id, number or question).")
    ] = None,
    answer: Annotated[
        str | None, typer.Option(help="The answer to grade with --card (default: stdin).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write results to .jsonl or .csv.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print grades as JSON.")] = False,
    db: Annotated[
        Path | None,
        typer.Option(
            help="Store every grade in this SQLite database as it is made: an interrupted run "
            "resumes, an unchanged one is not graded again. Default: examiner.db for a file.",
        ),
    ] = None,
    no_db: Annotated[
        bool, typer.Option("--no-db", help="Grade a file without storing it in a database.")
    ] = False,
    scorer: ScorerOpt = "auto",
    model: ModelOpt = None,
    threads: ThreadsOpt = None,
    checker: CheckerOpt = True,
    examples: ExamplesOpt = None,
    examples_from_reviews: ReviewExamplesOpt = False,
    calibration: CalibrationOpt = None,
    judge: JudgeOpt = None,
    judge_model: JudgeModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            help="Judge requests in flight at once (default: $EXAMINER_JUDGE_CONCURRENCY, "
            "else 8; never more than a llama.cpp server's slots).",
            rich_help_panel="LLM judge",
        ),
    ] = None,
    max_rpm: Annotated[
        float | None,
        typer.Option(
            help="At most this many judge requests a minute.", rich_help_panel="LLM judge"
        ),
    ] = None,
    judge_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds to wait for one reply (default: $EXAMINER_JUDGE_TIMEOUT, else 60).",
            rich_help_panel="LLM judge",
        ),
    ] = None,
    judge_retries: Annotated[
        int,
        typer.Option(
            help="Retries on 429/5xx/timeouts (Retry-After honoured).", rich_help_panel="LLM judge"
        ),
    ] = 2,
    cache: Annotated[
        bool,
        typer.Option(
            help="Reuse verdicts cached under EXAMINER_HOME for unchanged answers.",
            rich_help_panel="LLM judge",
        ),
    ] = True,
    dry_run: Annotated[
        bool,
        typer.Option(
            help="Estimate judge calls and tokens, send nothing.", rich_help_panel="LLM judge"
        ),
    ] = False,
    judge_batch: JudgeBatchOpt = False,
    wait: WaitOpt = False,
    poll: PollOpt = 60.0,
    batch_requests: BatchRequestsOpt = None,
    batch_results: BatchResultsOpt = None,
    engine: EngineOpt = "local",
    address: AddressOpt = None,
) -> None:
    """Grade one answer (--card) or a whole submissions file."""
    from ..config import judge_settings
    from ..rubric import load_rubric

    check_scorer(scorer)
    if judge is not None and judge not in ("off", "auto", "always"):
        raise typer.BadParameter("use off, auto or always", param_hint="--judge")
    if (submissions is None) == (card is None):
        raise typer.BadParameter(
            "give a SUBMISSIONS file, or --card (with --answer or the answer on stdin)"
        )
    judge_batch = check_batch_options(
        judge_batch or batch_requests is not None or batch_results is not None,
        file=submissions is not None and not no_db,
        poll=poll,
    )
    settings = judge_settings(
        mode=judge,
        model=judge_model,
        base_url=base_url,
        api_key=api_key,
        concurrency=concurrency,
        max_rpm=max_rpm,
        timeout=judge_timeout,
        max_retries=judge_retries,
        cache=cache,
    )
    deck = load_rubric(rubric)
    grader = make_grader(
        deck,
        scorer=scorer,
        model=model,
        calibration=calibration,
        judge=settings,
        threads=threads,
        checker=checker,
        examples=examples,
        reviewed=_reviewed(deck, rubric, db) if examples_from_reviews else (),
    )
    spread = make_engine(engine, address, grader, file=submissions is not None)
    with grader:
        if dry_run and judge_batch:
            assert submissions is not None
            dry_run_batch(grader, submissions, batch_requests)
        elif dry_run:
            dry_run_live(grader, submissions, card, answer)
        elif card is not None:
            _grade_one(grader, card, answer, as_json)
        elif no_db:
            assert submissions is not None
            _grade_file(grader, submissions, output, as_json, spread)
        else:
            assert submissions is not None
            # How the work is done, not what decides a grade: kept with the run only.
            options = {"concurrency": settings.concurrency, "max_rpm": max_rpm, "engine": engine}
            store = db or Path("examiner.db")
            batch = (
                grader.batch_judge(
                    requests_file=batch_requests,
                    results_file=batch_results,
                    wait=poll if wait else None,
                    on_poll=polled,
                )
                if judge_batch
                else None
            )
            try:
                _grade_into_store(
                    grader, rubric, submissions, store, output, as_json, options, batch, spread
                )
            finally:
                if batch is not None:
                    batch.close()


def _reviewed(deck: Rubric, path: Path, db: Path | None) -> list[GradedExample]:
    """The reviews of earlier runs on this rubric in the database, as graded examples."""
    from ..store import DEFAULT_DB, reviewed_examples

    with open_db(db or DEFAULT_DB) as store:
        found = reviewed_examples(store, deck, path)
        where = store.path
    err.print(f"{len(found)} reviewed answer(s) in {where} as graded examples")
    return found


def _grade_one(grader: Any, card: str, answer: str | None, as_json: bool) -> None:
    from .render import grade_panel

    found = grader.card(card)
    answer = read_answer(answer)
    with err.status("grading…"):
        result = grader.grade(found.id, answer)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    out.print(grade_panel(result, found.question))
    if result.judge is not None:
        emb = result.embedding
        cached = ", from the cache" if result.judge.cached else ""
        err.print(
            f"judge {escape(result.judge.model)}: {result.judge.score:.2f}"
            f" (embedding stage {emb.score if emb else 0:.2f}); "
            f"tokens {result.tokens_in} in / {result.tokens_out} out{cached}"
        )
    for note in result.notes:
        if note.startswith("judge_failed"):
            err.print(f"[yellow]notice:[/] {escape(note)}")


@dataclass
class _Tally:
    """What a file's grading run has seen so far, for the summary."""

    labels: Counter[str] = field(default_factory=Counter)
    flags: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    shown: list[Any] = field(default_factory=list)  # the first grades, for the screen

    @property
    def graded(self) -> int:
        return sum(self.labels.values())


def _grade_file(
    grader: Any, path: Path, output: Path | None, as_json: bool, engine: Any = None
) -> None:
    from contextlib import nullcontext

    from ..formats.results import open_results
    from ..formats.submissions import iter_records, iter_submissions

    total = sum(1 for _ in iter_records(path))
    tally = _Tally()
    started = time.perf_counter()
    writer_ctx = open_results(output) if output else nullcontext(None)
    progress = _progress(hidden=as_json)
    with writer_ctx as writer, progress:
        task = progress.add_task("grading", total=total)
        for item in grader.grade_many(iter_submissions(path), source=str(path), engine=engine):
            progress.advance(task)
            if isinstance(item, Problem):
                tally.problems.append(item)
                err.print(f"[red]skipped[/] {escape(str(item))}")
                continue
            tally.labels[item.label] += 1
            tally.flags.update(str(f) for f in item.flags)
            if writer is not None:
                writer.write(item)
            if as_json:
                sys.stdout.write(item.model_dump_json() + "\n")
            elif output is None and len(tally.shown) < 200:
                tally.shown.append(item)
    _report_file(grader, tally, time.perf_counter() - started, output, as_json)


def _report_file(
    grader: Any, tally: _Tally, seconds: float, output: Path | None, as_json: bool
) -> None:
    """The summary after a file: grades shown or written, counts, the judge's usage."""
    from .render import grades_table, summary_table

    usage = grader.judge_usage
    if as_json:
        if usage is not None:
            err.print(usage_line(grader.judge_settings.model, usage))
        return
    if output is None:
        out.print(grades_table(tally.shown))
        if tally.graded > len(tally.shown):
            out.print(f"(first {len(tally.shown)} shown: use --out FILE to keep them all)")
    scorer = grader.scorer.name + (" + judge" if grader.judge_settings is not None else "")
    out.print(summary_table(tally.labels, tally.flags, len(tally.problems), seconds, scorer))
    if usage is not None:
        out.print(usage_line(grader.judge_settings.model, usage))
    if output is not None:
        out.print(f"wrote {tally.graded} grades to {output}")


def _progress(*, hidden: bool = False) -> Progress:
    """The bar a file is graded under: on stderr, gone when done, so stdout stays the results."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from .render import RateColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=hidden,
    )


def _grade_into_store(
    grader: Any,
    rubric: Path,
    path: Path,
    db: Path,
    output: Path | None,
    as_json: bool,
    options: dict[str, Any],
    batch: Any = None,
    engine: Any = None,
) -> None:
    """Grade a file into the store, resuming or skipping what it already holds.

    With --json the run's grades go to stdout as JSON lines and the summary to
    stderr, so the output can be piped.
    """
    from ..batch import run_batch
    from ..formats.results import open_results
    from ..formats.submissions import iter_records
    from ..store import Store, latest_grades
    from .render import run_summary_table

    total = sum(1 for _ in iter_records(path))
    progress = _progress()
    with Store.open(db) as store, progress:
        task = progress.add_task("grading", total=total)
        summary = run_batch(
            store,
            grader,
            rubric,
            path,
            options=options,
            on_progress=lambda n: progress.advance(task, n),
            on_problem=lambda p: err.print(f"[red]skipped[/] {escape(str(p))}"),
            judge_batch=batch,
            engine=engine,
        )
        if summary.status == "waiting":
            progress.stop()
            report_waiting(summary, db, batch)
            return
        if output is not None:
            with open_results(output) as writer:
                for grade in latest_grades(store, summary.run_id):
                    writer.write(grade)
        if as_json:
            for grade in latest_grades(store, summary.run_id):
                sys.stdout.write(grade.model_dump_json() + "\n")
    console = err if as_json else out
    console.print(run_summary_table(summary, db, grader.scorer.name))
    usage = batch.usage if batch is not None else grader.judge_usage
    if usage is not None:
        console.print(usage_line(grader.judge_settings.model, usage))
    if output is not None:
        console.print(f"wrote {summary.stats.answers} grades to {output}")
