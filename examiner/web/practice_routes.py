"""The student's pages: pick a deck, answer the due card, see the feedback, rate it, stats.

The same practice history as `examiner practice` (the same file, student and
rubric key), so a student can switch between the terminal and the browser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..errors import ExaminerError
from ..models import Flag, Grade, RubricCard
from ..practice import (
    RATINGS,
    Attempt,
    CardState,
    PracticeHistory,
    PracticeStats,
    order_cards,
    practice_stats,
    suggest_rating,
)
from ..practice.history import card_states
from ..practice.session import humanize_delay, rating_of
from ..scoring.grader import StagedGrade
from .decks import Deck
from .pages import page, read_form, text_field
from .practice_flow import (
    JudgeVerdict,
    Pending,
    Verdicts,
    check_student,
    hints_for,
    new_nonce,
    open_pending,
    record,
    regrade,
    sign_pending,
)
from .security import APP_CSP

__all__ = ["router"]

router = APIRouter()

MAX_ANSWER = 10_000

# The answer page polls for the judge's verdict: it alone may fetch, and only from here.
POLLING_CSP = f"{APP_CSP}; connect-src 'self'"


def _deck(request: Request, slug: str) -> Deck | None:
    deck: Deck | None = request.app.state.decks.get(slug)
    return deck


def _deck_and_student(
    request: Request, slug: str, student: str, title: str
) -> tuple[Deck, str] | Response:
    """The deck and the student's name from a page's address, or the error page to show."""
    deck = _deck(request, slug)
    if deck is None:
        return _not_found(request, f"There is no deck {slug!r} here.")
    name = student.strip()
    problem = check_student(name)
    if problem:
        return page(request, "error.html", status=400, title=title, message=problem)
    return deck, name


def _verdicts(request: Request) -> Verdicts:
    """The server's verdicts still to come, made on first use (on the event loop: no race)."""
    state = request.app.state
    verdicts: Verdicts | None = getattr(state, "verdicts", None)
    if verdicts is None:
        verdicts = state.verdicts = Verdicts()
    return verdicts


def _not_found(request: Request, what: str) -> Response:
    return page(request, "error.html", status=404, title="Not found", message=what)


def _practice_url(slug: str, student: str, **more: object) -> str:
    params = {"student": student, **{k: str(v) for k, v in more.items() if v is not None}}
    return f"/practice/{slug}?{urlencode(params)}"


@router.get("/")
async def home(request: Request) -> Response:
    return page(request, "home.html", decks=list(request.app.state.decks), errors=[], student="")


@router.get("/practice")
async def choose(request: Request, deck: str = "", student: str = "") -> Response:
    """The home page's form: a deck and a name, checked, then the deck's next card."""
    name = student.strip()
    errors = [e for e in (check_student(name),) if e]
    if _deck(request, deck) is None:
        errors.insert(0, "Choose a deck.")
    if errors:
        decks = list(request.app.state.decks)
        return page(request, "home.html", status=400, decks=decks, errors=errors, student=name)
    return RedirectResponse(_practice_url(deck, name), status_code=303)


@router.get("/practice/{slug}")
async def next_card(
    request: Request,
    slug: str,
    student: str = "",
    hints: int = 0,
    card: str = "",
    last: int = 0,
    skip: str = "",
) -> Response:
    """The card to answer: `card` (with `hints` shown), else the next due, new or ahead.

    `last`: the attempt just recorded, shown with its next due date; `skip`: a
    card the student skipped, asked after the others.
    """
    found = _deck_and_student(request, slug, student, "Who is practising?")
    if isinstance(found, Response):
        return found
    deck, name = found
    deck.warm_up_soon()  # the model loads while the student reads the question
    history_db = request.app.state.config.history
    view = await run_in_threadpool(_card_view, deck, history_db, name, card, last, skip)
    shown = view.card
    return page(
        request,
        "practice_card.html",
        deck=deck,
        student=name,
        view=view,
        shown_hints=hints,
        hints=hints_for(shown, hints) if shown else [],
        more_hints=shown is not None and hints < len(shown.key_points),
        error="",
        typed="",
    )


@dataclass(frozen=True)
class CardView:
    """What a practice page shows besides the card's form: the card, the counts, the last rating."""

    card: RubricCard | None
    stats: PracticeStats
    state: CardState | None
    previous: Attempt | None
    now: datetime

    @property
    def due_in(self) -> str:
        """'in 3 days' for a card asked ahead of its time; '' for a due or new one."""
        if self.state is None or self.state.due <= self.now:
            return ""
        return humanize_delay(self.state.due - self.now)

    @property
    def previous_delay(self) -> str:
        p = self.previous
        return humanize_delay(p.due_at - p.reviewed_at) if p else ""


def _card_view(
    deck: Deck, history_db: Path | None, student: str, wanted: str, last: int, skip: str = ""
) -> CardView:
    """The card to ask (the one asked for, else the first in the practice order) and the counts.

    The order is `examiner practice`'s: due cards, then new ones, then the rest.
    """
    now = datetime.now(UTC)
    with PracticeHistory.open(student, deck.history_key, history_db) as history:
        attempts = history.attempts()
    states = card_states(attempts)
    queue = order_cards(deck.rubric.cards, states, now)
    queue = [c for c in queue if c.id != skip] + [c for c in queue if c.id == skip]
    card = (deck.card(wanted) if wanted else None) or (queue[0] if queue else None)
    previous = next((a for a in reversed(attempts) if a.id == last), None) if last else None
    return CardView(
        card=card,
        stats=practice_stats(deck.rubric, attempts, now),
        state=states.get(card.id) if card else None,
        previous=previous,
        now=now,
    )


@router.post("/practice/{slug}/answer")
async def answer(request: Request, slug: str) -> Response:
    deck = _deck(request, slug)
    if deck is None:
        return _not_found(request, f"There is no deck {slug!r} here.")
    form = await read_form(request)
    name = text_field(form, "student")
    card = deck.card(text_field(form, "card"))
    if check_student(name) or card is None:
        message = check_student(name) or "That card is not in this deck any more."
        return page(request, "error.html", status=400, title="Cannot grade", message=message)
    hints = _int(text_field(form, "hints"))
    typed = text_field(form, "answer", limit=MAX_ANSWER + 1)
    gave_up = text_field(form, "give_up") == "1"
    if len(typed) > MAX_ANSWER or (not typed and not gave_up):
        error = (
            f"An answer is at most {MAX_ANSWER:,} characters."
            if typed
            else "Type an answer first, or choose “Show me the answer”."
        )
        return page(
            request,
            "practice_card.html",
            status=400,
            deck=deck,
            student=name,
            view=await run_in_threadpool(
                _card_view, deck, request.app.state.config.history, name, card.id, 0
            ),
            shown_hints=hints,
            hints=hints_for(card, hints),
            more_hints=hints < len(card.key_points),
            error=error,
            typed=typed[:MAX_ANSWER],
        )
    started = time.perf_counter()
    try:
        staged = await run_in_threadpool(_grade, deck, card.id, typed, name)
    except ExaminerError as exc:
        return page(request, "error.html", status=503, title="Cannot grade", message=str(exc))
    elapsed = round((time.perf_counter() - started) * 1000)
    grade, judged = staged.first, staged.judged
    if judged is not None and judged.done() and not judged.cancelled():
        grade, judged = judged.result(), None  # already in (a cached verdict): shown as one
    verdict_id = ""
    if judged is not None:
        verdict_id = _verdicts(request).add(JudgeVerdict(judged, deck.slug, name, hints))
    suggested = suggest_rating(grade.score, hints)
    pending = Pending(deck.slug, name, grade, suggested, hints, elapsed, new_nonce(), verdict_id)
    response = page(
        request,
        "practice_feedback.html",
        deck=deck,
        student=name,
        card=card,
        grade=grade,
        suggested=suggested,
        ratings=RATINGS,
        pending=sign_pending(request.app.state.config.secret, pending),
        notices=list(deck.notices),
        verdict_url=f"/practice/{deck.slug}/verdict/{verdict_id}" if verdict_id else "",
    )
    if verdict_id:
        response.headers["content-security-policy"] = POLLING_CSP
    return response


def _grade(deck: Deck, card_id: str, answer: str, student: str) -> StagedGrade:
    return deck.grader().grade_staged(card_id, answer, student)


@router.get("/practice/{slug}/verdict/{verdict_id}")
async def verdict(request: Request, slug: str, verdict_id: str) -> Response:
    """The judge's verdict on an answer, for the answer page's script: pending, or its grade."""
    found = _verdicts(request).get(verdict_id)
    if found is None or found.deck != slug:
        return JSONResponse({"state": "unknown"}, status_code=404)
    if not found.future.done():
        return JSONResponse({"state": "pending"})
    grade = found.grade()
    if grade is None:
        return JSONResponse({"state": "dropped"})
    return JSONResponse(_verdict_json(grade, found.hints))


def _verdict_json(grade: Grade, hints: int) -> dict[str, str]:
    """What the page shows of a verdict: text only (the script sets it as text, not markup)."""
    failed = ""
    if Flag.JUDGE_FAILED in grade.flags:
        notes = [n for n in grade.notes if n.startswith("judge_failed")]
        failed = notes[-1].removeprefix("judge_failed: ") if notes else "no verdict"
    fb = grade.judge_feedback
    return {
        "state": "done",
        "score": f"{grade.score:.2f}",
        "label": str(grade.label),
        "failed": failed,
        "right": fb.right if fb else "",
        "missing": fb.missing if fb else "",
        "next": fb.next_step if fb else "",
        "suggested": suggest_rating(grade.score, hints),
    }


@router.post("/practice/{slug}/rate")
async def rate(request: Request, slug: str) -> Response:
    deck = _deck(request, slug)
    if deck is None:
        return _not_found(request, f"There is no deck {slug!r} here.")
    form = await read_form(request)
    pending = open_pending(request.app.state.config.secret, text_field(form, "pending"))
    if pending is None or pending.deck != deck.slug:
        message = "This answer's form has expired (the server restarted?): answer the card again."
        return page(request, "error.html", status=400, title="Cannot rate", message=message)
    # A verdict in by now is what is stored (and what the page showed, if its script ran).
    later = _verdicts(request).get(pending.verdict) if pending.verdict else None
    judged = later.grade() if later is not None else None
    if judged is not None:
        pending = replace(
            pending, grade=judged, suggested=suggest_rating(judged.score, pending.hints)
        )
    rating = rating_of(text_field(form, "rating") or pending.suggested)
    if rating is None:
        message = "Choose again, hard, good or easy."
        return page(request, "error.html", status=400, title="Cannot rate", message=message)
    history_db = request.app.state.config.history
    attempt_id = await run_in_threadpool(
        record, deck, history_db, pending, rating, request.app.state.spent
    )
    if later is not None and judged is None:
        store = partial(regrade, deck, history_db, pending.student)
        await run_in_threadpool(later.store_into, attempt_id, store)
    return RedirectResponse(_practice_url(deck.slug, pending.student, last=attempt_id), 303)


@router.get("/practice/{slug}/stats")
async def stats(request: Request, slug: str, student: str = "") -> Response:
    found = _deck_and_student(request, slug, student, "Whose stats?")
    if isinstance(found, Response):
        return found
    deck, name = found
    view = await run_in_threadpool(_card_view, deck, request.app.state.config.history, name, "", 0)
    return page(request, "practice_stats.html", deck=deck, student=name, stats=view.stats)


def _int(text: str) -> int:
    try:
        return max(0, min(int(text), 100))
    except ValueError:
        return 0
