"""The review queue: flagged grades, one at a time, accepted or overridden with a reason.

The same rows as `examiner review` (`Store.add_review`): the review follows
the answer, wins in every export and report, and says who decided and why.
Keyboard: `a` accepts, `o` goes to the override score, `n` the next grade
(static/app.js).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..models import RubricCard
from ..rubric import load_rubric
from ..store import Store, StoredGrade, default_author, is_review_flag, latest_records
from ..store.records import LATEST_SELECT, stored_from_row
from ..store.reviews import parse_score
from .auth import require_teacher
from .decks import Decks
from .pages import page, read_form, text_field

__all__ = ["flagged", "router"]

router = APIRouter(dependencies=[Depends(require_teacher)])

MAX_NOTE = 2000


def flagged(store: Store, run: int | None, *, show_all: bool) -> list[StoredGrade]:
    """The flagged grades (`examiner review`'s list): those still to review, or all."""
    if run is None and store.latest_run() is None:
        return []
    return [
        s
        for s in latest_records(store, run)
        if any(is_review_flag(f) for f in s.flags) and (show_all or s.review is None)
    ]


@dataclass(frozen=True)
class ReviewItem:
    stored: StoredGrade
    card: RubricCard | None
    position: int  # 1-based, among the grades still to review
    waiting: int
    next_id: int | None


def _queue(db: Path, run: int | None, show_all: bool) -> list[StoredGrade]:
    if not db.exists():
        return []
    with Store.open(db, create=False) as store:
        return flagged(store, run, show_all=show_all)


def _item(decks: Decks, db: Path, grade_id: int) -> ReviewItem | None:
    with Store.open(db, create=False) as store:
        rows = store.fetch(LATEST_SELECT + " WHERE g.id = ?", (grade_id,))
        if not rows:
            return None
        stored = stored_from_row(rows[0])
        run = store.run(stored.run_id)
        todo = flagged(store, None, show_all=False)
    ids = [s.grade_id for s in todo]
    position = ids.index(grade_id) + 1 if grade_id in ids else 0
    # The next one after this in the queue, wrapping round to the first.
    next_id = next((i for i in ids[position:] + ids if i != grade_id), None)
    return ReviewItem(
        stored,
        _card(decks, run.rubric_hash, run.rubric_path, stored.grade.card_id),
        position,
        len(ids),
        next_id,
    )


def _card(decks: Decks, rubric_hash: str, rubric_path: str, card_id: str) -> RubricCard | None:
    """The rubric's card: from the deck served, else the file the run recorded, if still there."""
    deck = decks.by_hash(rubric_hash)
    if deck is not None:
        return deck.card(card_id)
    try:
        rubric = load_rubric(rubric_path)
    except Exception:  # moved or changed since: the page shows the grade without the rubric
        return None
    return next((c for c in rubric.cards if c.id == card_id), None)


@router.get("/teacher/review")
async def queue(request: Request, run: int | None = None, all: bool = False) -> Response:
    db = request.app.state.config.db
    items = await run_in_threadpool(_queue, db, run, all)
    return page(request, "review_list.html", items=items, show_all=all, run=run)


@router.get("/teacher/review/{grade_id}")
async def item(request: Request, grade_id: int, done: str = "") -> Response:
    return await _item_page(request, grade_id, done=done)


async def _item_page(
    request: Request,
    grade_id: int,
    *,
    done: str = "",
    errors: list[str] | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    state = request.app.state
    found = None
    if state.config.db.exists():
        found = await run_in_threadpool(_item, state.decks, state.config.db, grade_id)
    if found is None:
        message = f"No grade {grade_id} in {state.config.db.name}."
        return page(request, "error.html", status=404, title="Not found", message=message)
    values = {"score": "", "note": "", "author": default_author()} | (form or {})
    return page(
        request,
        "review_item.html",
        status=status,
        item=found,
        grade=found.stored.grade,
        done=done,
        errors=errors or [],
        form=values,
    )


@router.post("/teacher/review/{grade_id}")
async def decide(request: Request, grade_id: int) -> Response:
    """Accept the grade, or override it with a score and the reason."""
    form = await read_form(request)
    action = text_field(form, "action")
    values = {k: text_field(form, k, limit=MAX_NOTE) for k in ("score", "note", "author")}
    errors: list[str] = []
    score: float | None = None
    if action not in ("accept", "override"):
        errors.append("Choose accept or override.")
    if action == "override":
        try:
            score = parse_score(values["score"])
        except ValueError as exc:
            errors.append(str(exc))
        if not values["note"]:
            errors.append("An override needs its reason: it is kept with the grade.")
    if errors:
        return await _item_page(request, grade_id, errors=errors, status=400, form=values)
    db = request.app.state.config.db
    done = await run_in_threadpool(_record, db, grade_id, action, score, values)
    if done is None:
        return await _item_page(request, grade_id)
    next_id, message = done
    target = f"/teacher/review/{next_id}" if next_id else "/teacher/review"
    return RedirectResponse(f"{target}?{urlencode({'done': message})}", status_code=303)


def _record(
    db: Path, grade_id: int, action: str, score: float | None, values: dict[str, str]
) -> tuple[int | None, str] | None:
    """Store the review; the next grade to review and what was done, or None if no such grade."""
    with Store.open(db, create=False) as store:
        rows = store.fetch(LATEST_SELECT + " WHERE g.id = ?", (grade_id,))
        if not rows:
            return None
        stored = stored_from_row(rows[0])
        author = values["author"] or None
        if action == "override":
            assert score is not None
            review = store.add_review(
                stored, "override", score=score, note=values["note"], author=author
            )
            what = f"{stored.grade.score:.2f} → {score:.2f}"
        else:
            review = store.add_review(stored, "accept", note=values["note"], author=author)
            what = "accepted"
        todo = [s.grade_id for s in flagged(store, None, show_all=False)]
    g = stored.grade
    message = f"{g.student_id} · {g.card_id}: {what} by {review.author}"
    return (todo[0] if todo else None), message
