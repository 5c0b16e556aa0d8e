"""Spaced repetition: a practice score becomes a rating, a rating a next due date (fsrs).

The scheduler is fsrs with its published default parameters and fuzzing off:
the same history always gives the same due dates, which a student can check
(`examiner stats`) and a test can recompute.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fsrs import Card as FsrsCard
from fsrs import Rating, Scheduler, State

from ..models import RubricCard

__all__ = [
    "RATINGS",
    "RATING_THRESHOLDS",
    "CardState",
    "RatingName",
    "Schedule",
    "order_cards",
    "rating_name",
    "rating_number",
    "stage_of",
    "suggest_rating",
]

RatingName = Literal["again", "hard", "good", "easy"]
RATINGS: tuple[RatingName, ...] = ("again", "hard", "good", "easy")

# The lowest score that earns each rating. Below 0.5 the student did not
# recall the card (half the key points or fewer): fsrs must see a lapse.
RATING_THRESHOLDS: Mapping[RatingName, float] = {
    "again": 0.0,
    "hard": 0.5,
    "good": 0.75,
    "easy": 0.92,
}


def suggest_rating(score: float, hints: int = 0) -> RatingName:
    """The rating a score earns; an answer given after a hint earns at most `hard`."""
    earned: RatingName = "again"
    for name in RATINGS:
        if score >= RATING_THRESHOLDS[name]:
            earned = name
    if hints and RATINGS.index(earned) > RATINGS.index("hard"):
        return "hard"
    return earned


def rating_number(name: RatingName) -> int:
    """fsrs's number for a rating (again 1 … easy 4), as stored."""
    return int(Rating[name.capitalize()])


def rating_name(number: int) -> RatingName:
    return RATINGS[number - 1]


def stage_of(state: Mapping[str, Any]) -> str:
    """fsrs's stage of a stored card state: learning, review or relearning."""
    return State(state["state"]).name.lower()


@dataclass(frozen=True)
class CardState:
    """Where one card stands for one student: fsrs's memory state and next due date."""

    card_id: str
    fsrs: dict[str, Any]
    reviews: int
    last_review: datetime

    @property
    def due(self) -> datetime:
        return datetime.fromisoformat(self.fsrs["due"])

    @property
    def stage(self) -> str:
        return stage_of(self.fsrs)

    def is_due(self, now: datetime) -> bool:
        return self.due <= now


class Schedule:
    """fsrs reviews on plain dicts, so the store never depends on fsrs's classes."""

    def __init__(self, desired_retention: float = 0.9) -> None:
        self.scheduler = Scheduler(desired_retention=desired_retention, enable_fuzzing=False)

    def review(
        self, state: Mapping[str, Any] | None, rating: RatingName, when: datetime
    ) -> dict[str, Any]:
        """The card's state after a review at `when` (a new card if `state` is None)."""
        # card_id=0: fsrs would otherwise mint an id from the clock (and sleep to do so).
        card = FsrsCard(card_id=0) if state is None else FsrsCard.from_dict(dict(state))  # type: ignore[arg-type]
        reviewed, _log = self.scheduler.review_card(
            card, Rating[rating.capitalize()], review_datetime=when
        )
        return reviewed.to_dict()  # type: ignore[return-value]

    def recall_probability(self, state: Mapping[str, Any], now: datetime) -> float:
        """fsrs's estimate that the student would recall the card at `now`."""
        card = FsrsCard.from_dict(dict(state))  # type: ignore[arg-type]
        return float(self.scheduler.get_card_retrievability(card, current_datetime=now))


def order_cards(
    cards: Sequence[RubricCard],
    states: Mapping[str, CardState],
    now: datetime,
    *,
    due_only: bool = False,
    new: int | None = None,
    limit: int | None = None,
    shuffle: bool = False,
    rng: random.Random | None = None,
) -> list[RubricCard]:
    """What a session asks, in order.

    Due cards first, most overdue first; then new cards (deck order, or
    shuffled), at most `new` of them; then, unless `due_only`, the cards not
    yet due, soonest first, for a student who wants to practise ahead.
    """
    rng = rng or random.Random()
    due = [c for c in cards if c.id in states and states[c.id].is_due(now)]
    due.sort(key=lambda c: states[c.id].due)
    fresh = [c for c in cards if c.id not in states]
    if shuffle:
        rng.shuffle(fresh)
    if new is not None:
        fresh = fresh[: max(new, 0)]
    ahead: list[RubricCard] = []
    if not due_only:
        ahead = [c for c in cards if c.id in states and not states[c.id].is_due(now)]
        ahead.sort(key=lambda c: states[c.id].due)
    queue = due + fresh + ahead
    return queue if limit is None else queue[: max(limit, 0)]
