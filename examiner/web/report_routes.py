"""The reports of `examiner report`, served live from the database: the same renderers.

Each page is made by `examiner.reports` from the grades as they are now,
teachers' reviews applied, under `/teacher/reports/<scope>/`, with the files'
own names, so the reports' relative links work unchanged. `scope` is
`latest` (the latest grade of every answer) or `run-N` (one run). Each
report page carries its own Content-Security-Policy (its own script only);
the same policy goes in the header.
"""

from __future__ import annotations

import html
import re
import threading
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..errors import ExaminerError
from ..reports import CLASS_REPORT, ReportData, load_report_data
from ..reports import gradebook as books
from ..store import Store
from .auth import require_teacher
from .decks import Decks
from .pages import page

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(require_teacher)])

# matplotlib draws the class report's charts and is not safe to run in two threads at once.
_drawing = threading.Lock()

_CSP_META = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">')
_SCOPE = re.compile(r"latest|run-([0-9]{1,9})")

CSV_FILES = {
    books.CANVAS_FILE: books.canvas_gradebook,
    books.MOODLE_FILE: books.moodle_gradebook,
    books.LONG_FILE: books.long_format,
}
DOWNLOADS = [
    (books.CANVAS_FILE, "gradebook for Canvas (Grades → Import)"),
    (books.MOODLE_FILE, "gradebook for Moodle (Grades → Import → CSV file)"),
    (books.LONG_FILE, "every answer on its own row"),
]


def _data(decks: Decks, db: Path, run_id: int | None) -> ReportData:
    """The report data, named by the served deck's rubric when it is the run's."""
    with Store.open(db, create=False) as store:
        run = store.run(run_id) if run_id is not None else store.latest_run()
    deck = decks.by_hash(run.rubric_hash) if run is not None else None
    return load_report_data(db, run_id=run_id, rubric=deck.rubric if deck else None)


async def _load(request: Request, scope: str) -> ReportData | Response:
    match = _SCOPE.fullmatch(scope)
    if match is None:
        message = "Reports are under latest/ or run-N/."
        return page(request, "error.html", status=404, title="Not found", message=message)
    run_id = int(match.group(1)) if match.group(1) else None
    state = request.app.state
    try:
        return await run_in_threadpool(_data, state.decks, state.config.db, run_id)
    except ExaminerError as exc:
        return page(request, "error.html", status=404, title="No report", message=str(exc))


def _html(text: str) -> Response:
    """A report page, its meta policy also sent as the header (framing forbidden too)."""
    found = _CSP_META.search(text)
    policy = html.unescape(found.group(1)) if found else "default-src 'none'"
    headers = {"content-security-policy": f"{policy}; frame-ancestors 'none'"}
    return Response(text, media_type="text/html; charset=utf-8", headers=headers)


@router.get("/teacher/reports/{scope}/")
@router.get("/teacher/reports/{scope}/index.html")
async def index(request: Request, scope: str) -> Response:
    from ..reports.html import render_index

    data = await _load(request, scope)
    if isinstance(data, Response):
        return data
    text = render_index(data, class_report=CLASS_REPORT, html=True, downloads=DOWNLOADS)
    return _html(text)


@router.get(f"/teacher/reports/{{scope}}/{CLASS_REPORT}")
async def class_report(request: Request, scope: str) -> Response:
    from ..reports.html import render_class

    data = await _load(request, scope)
    if isinstance(data, Response):
        return data

    def draw() -> str:
        with _drawing:
            return render_class(data, student_pages=True)

    return _html(await run_in_threadpool(draw))


@router.get("/teacher/reports/{scope}/students/{slug}.html")
async def student(request: Request, scope: str, slug: str) -> Response:
    from ..reports.html import render_student

    data = await _load(request, scope)
    if isinstance(data, Response):
        return data
    found = next((s for s in data.students if s.slug == slug), None)
    if found is None:
        message = f"No student {slug!r} in this report."
        return page(request, "error.html", status=404, title="Not found", message=message)
    return _html(render_student(data, found, index=True, class_report=CLASS_REPORT))


@router.get("/teacher/reports/{scope}/{name}.csv")
async def download(request: Request, scope: str, name: str) -> Response:
    writer = CSV_FILES.get(f"{name}.csv")
    if writer is None:
        message = f"No file {name}.csv: the downloads are {', '.join(CSV_FILES)}."
        return page(request, "error.html", status=404, title="Not found", message=message)
    data = await _load(request, scope)
    if isinstance(data, Response):
        return data
    # With a byte-order mark, as `examiner report` writes them (Excel reads accents right).
    body = "\ufeff" + writer(data)
    disposition = f'attachment; filename="{name}.csv"'
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": disposition},
    )
