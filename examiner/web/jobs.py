"""Grading an uploaded submissions file in the background, as `examiner grade` does.

Each job runs `run_batch` in a thread of its own, on a store connection of
its own, so the run is stored, resumable and idempotent exactly like a run of
the command line (the same answers file graded again resumes or reuses the
same run). The page that shows a job reads its counters; nothing here holds
grades in memory.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..batch import RunSummary, run_batch
from ..errors import ExaminerError, InputError, Problem
from ..formats.submissions import SUBMISSION_EXTENSIONS, iter_records, iter_submissions
from ..store import Store
from .decks import Deck

__all__ = ["MAX_PROBLEMS_SHOWN", "Job", "JobState", "Jobs", "save_upload"]

JobState = Literal["grading", "finished", "failed"]

# A file of nothing but bad rows must not fill the page (or memory): the run stores them all.
MAX_PROBLEMS_SHOWN = 200


@dataclass
class Job:
    """One grading of one file; its counters are written by the worker thread only."""

    id: str
    deck: Deck
    path: Path
    total: int
    done: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    summary: RunSummary | None = None
    error: str | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def state(self) -> JobState:
        if self.error is not None:
            return "failed"
        return "finished" if self.summary is not None else "grading"

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.done / self.total))

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def _problem(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS_SHOWN:
            self.problems.append(problem)


def save_upload(directory: Path, filename: str, content: bytes) -> Path:
    """Keep an uploaded file under a folder named by its content, with its own name.

    The same bytes uploaded again land on the same path, so the run resumes
    or is found complete; the file's own name is what its problems show.
    """
    name = Path(filename.replace("\\", "/")).name
    suffix = Path(name).suffix.lower()
    if suffix not in SUBMISSION_EXTENSIONS:
        shown = f"'{suffix}'" if suffix else "without an extension"
        raise InputError.at(
            name or "upload",
            None,
            f"unsupported file type {shown}: use one of {', '.join(SUBMISSION_EXTENSIONS)}",
        )
    if not content:
        raise InputError.at(name, None, "file is empty")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem).strip("._") or "answers"
    folder = directory / hashlib.sha256(content).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{safe}{suffix}"
    if not path.exists():
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_bytes(content)
        temporary.replace(path)
    return path


class Jobs:
    """The grading jobs of this server process, newest last."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        return list(self._jobs.values())

    def start(self, deck: Deck, path: Path) -> Job:
        """Check the file can be read, then grade it in the background.

        Raises InputError (with the located problem) for a file that cannot be
        read at all; bad rows are the job's problems, and the good rows are graded.
        A file already being graded for this deck gives that job back.
        """
        iter_submissions(path)  # a missing column or a bad encoding raises here; dropped, it closes
        with self._lock:
            for job in self._jobs.values():
                if job.state == "grading" and job.deck is deck and job.path == path:
                    return job
            total = sum(1 for _ in iter_records(path))
            job = Job(secrets.token_urlsafe(8), deck, path, total)
            self._jobs[job.id] = job
        worker = threading.Thread(target=self._run, args=(job,), name=f"examiner-grade-{job.id}")
        worker.daemon = True
        worker.start()
        return job

    def _run(self, job: Job) -> None:
        def advance(n: int) -> None:
            job.done += n

        try:
            with Store.open(self.db) as store:
                job.summary = run_batch(
                    store,
                    job.deck.grader(),
                    job.deck.path,
                    job.path,
                    on_progress=advance,
                    on_problem=job._problem,
                )
        except InputError as exc:
            job.error = "; ".join(str(p) for p in exc.problems[:5])
        except ExaminerError as exc:
            job.error = str(exc)
        except Exception as exc:  # shown on the job's page, not lost in a thread
            job.error = f"grading stopped: {type(exc).__name__}: {exc}"
        finally:
            job.finished = time.monotonic()
