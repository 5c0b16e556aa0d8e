"""What a student's practice history says: what is due, what sticks, what does not.

Every number is computed from the stored attempts alone (no other state), so
`examiner stats` always agrees with the history it reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from itertools import pairwise

from ..models import Rubric
from .history import Attempt, card_states
from .schedule import Schedule, stage_of

__all__ = ["CardProgress", "KeyPointProgress", "PracticeStats", "practice_stats"]


@dataclass(frozen=True)
class CardProgress:
    card_id: str
    question: str
    scores: list[float]
    due: datetime | None
    stage: str
    recall_now: float | None

    @property
    def attempts(self) -> int:
        return len(self.scores)

    @property
    def trend(self) -> float | None:
        """Last score minus first: positive when the student is improving."""
        return self.scores[-1] - self.scores[0] if len(self.scores) >= 2 else None


@dataclass(frozen=True)
class KeyPointProgress:
    card_id: str
    key_point_id: str
    text: str
    attempts: int
    mean_coverage: float
    missed: int


@dataclass
class PracticeStats:
    cards: int
    new: int
    due_now: int
    due_today: int
    due_week: int
    reviews: int
    # Share of reviews of learned cards (fsrs state "review") not rated again;
    # None until there is such a review.
    retention: float | None
    retention_reviews: int
    # fsrs's mean estimated recall probability, now, over practised cards.
    recall_now: float | None
    per_card: list[CardProgress] = field(default_factory=list)
    weakest: list[KeyPointProgress] = field(default_factory=list)


def practice_stats(
    rubric: Rubric,
    attempts: Sequence[Attempt],
    now: datetime,
    *,
    schedule: Schedule | None = None,
    weakest: int = 5,
) -> PracticeStats:
    """Stats over the attempts on the rubric's current cards (removed cards are ignored).

    "Today" and "this week" end at local midnight: a student plans by the day.
    """
    schedule = schedule or Schedule()
    card_ids = {c.id for c in rubric.cards}
    mine = [a for a in attempts if a.card_id in card_ids]
    by_card: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in mine:
        by_card[attempt.card_id].append(attempt)
    states = card_states(mine)

    local_now = now.astimezone()
    end_of_today = datetime.combine(local_now.date() + timedelta(days=1), time(), local_now.tzinfo)
    end_of_week = end_of_today + timedelta(days=6)
    dues = [s.due for s in states.values()]

    learned_reviews = 0
    kept = 0
    for items in by_card.values():
        for before, after in pairwise(items):
            if stage_of(before.state) == "review":
                learned_reviews += 1
                kept += after.rating != "again"

    per_card = []
    for card in rubric.cards:
        items = by_card.get(card.id, [])
        state = states.get(card.id)
        per_card.append(
            CardProgress(
                card_id=card.id,
                question=card.question,
                scores=[a.score for a in items if a.score is not None],
                due=state.due if state else None,
                stage=state.stage if state else "new",
                recall_now=schedule.recall_probability(state.fsrs, now) if state else None,
            )
        )
    recalls = [p.recall_now for p in per_card if p.recall_now is not None]
    return PracticeStats(
        cards=len(rubric.cards),
        new=len(rubric.cards) - len(states),
        due_now=sum(d <= now for d in dues),
        due_today=sum(d < end_of_today for d in dues),
        due_week=sum(d < end_of_week for d in dues),
        reviews=len(mine),
        retention=kept / learned_reviews if learned_reviews else None,
        retention_reviews=learned_reviews,
        recall_now=sum(recalls) / len(recalls) if recalls else None,
        per_card=per_card,
        weakest=_weakest_key_points(rubric, mine)[:weakest],
    )


def _weakest_key_points(rubric: Rubric, attempts: Sequence[Attempt]) -> list[KeyPointProgress]:
    """Key points by mean coverage over every attempt at their card, lowest first."""
    current = {(c.id, p.id): p.text for c in rubric.cards for p in c.key_points}
    coverage: dict[tuple[str, str], list[float]] = defaultdict(list)
    missed: dict[tuple[str, str], int] = defaultdict(int)
    for attempt in attempts:
        if attempt.grade is None:
            continue
        for result in attempt.grade.key_points:
            key = (attempt.card_id, result.key_point_id)
            if key not in current:  # a key point since removed from the rubric
                continue
            coverage[key].append(result.coverage)
            missed[key] += result.status == "missing"
    rows = [
        KeyPointProgress(cid, kid, current[(cid, kid)], len(v), sum(v) / len(v), missed[(cid, kid)])
        for (cid, kid), v in coverage.items()
    ]
    rows.sort(key=lambda r: (r.mean_coverage, -r.attempts, r.card_id, r.key_point_id))
    return rows
