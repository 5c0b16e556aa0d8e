"""The teacher's home: the runs in the database, uploading a file to grade, a run's progress."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ..errors import ExaminerError, InputError
from ..store import RunRecord, RunStats, Store
from .auth import require_teacher
from .decks import Deck, Decks
from .jobs import Job, save_upload
from .pages import page, read_form, text_field
from .review_routes import flagged

__all__ = ["RunRow", "router"]

router = APIRouter(dependencies=[Depends(require_teacher)])


@dataclass(frozen=True)
class RunRow:
    """A run as the runs table shows it."""

    run: RunRecord
    stats: RunStats
    deck: Deck | None  # the deck served with the run's rubric, if any
    resumable: bool

    @property
    def rubric(self) -> str:
        return self.run.rubric_title or Path(self.run.rubric_path).name

    @property
    def answers_file(self) -> str:
        return Path(self.run.submissions_path).name


def _runs(decks: Decks, db: Path) -> tuple[list[RunRow], int]:
    """Every run, newest first, and how many flagged grades wait for a teacher."""
    if not db.exists():
        return [], 0
    with Store.open(db, create=False) as store:
        records = store.runs()
        stats = store.all_run_stats()
        waiting = len(flagged(store, None, show_all=False))
    rows = []
    for run in reversed(records):
        deck = decks.by_hash(run.rubric_hash)
        stopped = run.shown_status in ("stopped", "interrupted")
        rows.append(
            RunRow(
                run,
                stats.get(run.id) or RunStats(),
                deck,
                stopped and deck is not None and Path(run.submissions_path).is_file(),
            )
        )
    return rows, waiting


async def _home(
    request: Request, *, errors: list[str] | None = None, status: int = 200
) -> Response:
    state = request.app.state
    rows, waiting = await run_in_threadpool(_runs, state.decks, state.config.db)
    jobs = [j for j in state.jobs.all() if j.state == "grading"]
    return page(
        request,
        "teacher_home.html",
        status=status,
        rows=rows,
        waiting=waiting,
        jobs=jobs,
        decks=list(state.decks),
        db=state.config.db.name,
        errors=errors or [],
    )


@router.get("/teacher")
async def home(request: Request) -> Response:
    return await _home(request)


@router.post("/teacher/upload")
async def upload(request: Request) -> Response:
    """Grade an uploaded submissions file into the database, in the background."""
    form = await read_form(request)
    deck = request.app.state.decks.get(text_field(form, "deck"))
    file = form.get("file")
    errors = []
    if deck is None:
        errors.append("Choose the deck (rubric) the answers are for.")
    if not isinstance(file, UploadFile) or not file.filename:
        errors.append("Choose a submissions file (CSV or JSONL: student_id, card, answer).")
    if errors:
        return await _home(request, errors=errors, status=400)
    assert isinstance(file, UploadFile) and deck is not None
    limit = request.app.state.config.max_upload_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        message = f"{file.filename}: larger than {limit // (1024 * 1024)} MB; grade it with the CLI"
        return await _home(request, errors=[message], status=400)
    try:
        job = await run_in_threadpool(_start, request, deck, str(file.filename), content)
    except InputError as exc:
        return await _home(request, errors=[_short(str(p)) for p in exc.problems], status=400)
    except ExaminerError as exc:
        return await _home(request, errors=[str(exc)], status=400)
    return RedirectResponse(f"/teacher/jobs/{job.id}", status_code=303)


def _start(request: Request, deck: Deck, filename: str, content: bytes) -> Job:
    path = save_upload(request.app.state.config.upload_dir, filename, content)
    job: Job = request.app.state.jobs.start(deck, path)
    return job


def _short(text: str) -> str:
    """A problem's message with the file's name, not the server's path to it."""
    head, sep, rest = text.partition(": ")
    return f"{Path(head).name}{sep}{rest}" if sep else text


@router.post("/teacher/runs/{run_id}/resume")
async def resume(request: Request, run_id: int) -> Response:
    """Grade what a stopped run (a server or a command that died) did not finish."""
    await read_form(request)
    rows, _ = await run_in_threadpool(_runs, request.app.state.decks, request.app.state.config.db)
    row = next((r for r in rows if r.run.id == run_id), None)
    if row is None or not row.resumable or row.deck is None:
        message = f"Run {run_id} cannot be resumed here (finished, or its rubric is not served)."
        return await _home(request, errors=[message], status=400)
    try:
        job = await run_in_threadpool(
            request.app.state.jobs.start, row.deck, Path(row.run.submissions_path)
        )
    except ExaminerError as exc:
        return await _home(request, errors=[str(exc)], status=400)
    return RedirectResponse(f"/teacher/jobs/{job.id}", status_code=303)


@router.get("/teacher/jobs/{job_id}")
async def job_page(request: Request, job_id: str) -> Response:
    job = request.app.state.jobs.get(job_id)
    if job is None:
        message = "No such grading job (jobs are kept until the server stops; see the runs)."
        return page(request, "error.html", status=404, title="Not found", message=message)
    return page(request, "job.html", job=job, problems=[_short(str(p)) for p in job.problems])
