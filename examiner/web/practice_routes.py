"""The student's pages: pick a deck, answer the due card, see the feedback, rate it, stats.

The same practice history as `examiner practice` (the same file, student and
rubric key), so a student can switch between the terminal and the browser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..errors import ExaminerError
from ..models import Grade, RubricCard
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
from .decks import Deck
from .pages import page, read_form, text_field
from .practice_flow import (
    Pending,
    check_student,
    hints_for,
    new_nonce,
    open_pending,
    record,
    sign_pending,
)

__all__ = ["router"]

router = APIRouter()

MAX_ANSWER = 10_000


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
        grade = await run_in_threadpool(_grade, deck, card.id, typed, name)
    except ExaminerError as exc:
        return page(request, "error.html", status=503, title="Cannot grade", message=str(exc))
    elapsed = round((time.perf_counter() - started) * 1000)
    suggested = suggest_rating(grade.score, hints)
    pending = Pending(deck.slug, name, grade, suggested, hints, elapsed, new_nonce())
    return page(
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
    )


def _grade(deck: Deck, card_id: str, answer: str, student: str) -> Grade:
    return deck.grader().grade(card_id, answer, student)


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
    rating = rating_of(text_field(form, "rating") or pending.suggested)
    if rating is None:
        message = "Choose again, hard, good or easy."
        return page(request, "error.html", status=400, title="Cannot rate", message=message)
    attempt_id = await run_in_threadpool(
        record, deck, request.app.state.config.history, pending, rating, request.app.state.spent
    )
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
