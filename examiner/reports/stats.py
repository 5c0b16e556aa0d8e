"""The class's statistics: per card, per key point and per misconception.

Pure functions of the answers as they stand (reviews applied), so that every
report counts the same answers the same way.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from .views import (
    AnswerView,
    CardInfo,
    CardStats,
    KeyPointStats,
    MisconceptionStats,
    MisconceptionView,
)

__all__ = ["card_stats", "key_point_stats", "misconception_stats"]

LABELS = ("correct", "partial", "incorrect")
MAX_EXAMPLES = 3


def card_stats(cards: Sequence[CardInfo], answers: Sequence[AnswerView]) -> Iterable[CardStats]:
    for card in cards:
        scores = [a.score for a in answers if a.card.id == card.id]
        if not scores:
            yield CardStats(card, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, {}, ())
            continue
        labels = Counter(a.label for a in answers if a.card.id == card.id)
        yield CardStats(
            card=card,
            answers=len(scores),
            mean=statistics.fmean(scores),
            sd=statistics.pstdev(scores),
            median=statistics.median(scores),
            low=min(scores),
            high=max(scores),
            mean_points=statistics.fmean(a.points for a in answers if a.card.id == card.id),
            labels={k: labels.get(k, 0) for k in LABELS},
            scores=tuple(scores),
        )


def key_point_stats(
    cards: Sequence[CardInfo], answers: Sequence[AnswerView]
) -> Iterable[KeyPointStats]:
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for answer in answers:
        for k in answer.key_points:
            counts[(answer.card.id, k.id)][k.status] += 1
    for card in cards:
        for position, kp in enumerate(card.key_points, 1):
            c = counts.get((card.id, kp.id), Counter())
            yield KeyPointStats(
                card=card,
                key_point=kp,
                position=position,
                answers=sum(c.values()),
                covered=c["covered"],
                partial=c["partial"],
                missing=c["missing"],
            )


def misconception_stats(answers: Sequence[AnswerView]) -> list[MisconceptionStats]:
    found: dict[tuple[str, str], list[tuple[AnswerView, MisconceptionView]]] = defaultdict(list)
    for answer in answers:
        for m in answer.misconceptions:
            found[(answer.card.id, m.id)].append((answer, m))
    stats = []
    for items in found.values():
        answer, first = items[0]
        stats.append(
            MisconceptionStats(
                card=answer.card,
                id=first.id,
                text=first.text,
                correction=first.correction,
                count=len(items),
                students=tuple(dict.fromkeys(a.student_id for a, _ in items)),
                examples=tuple(
                    (a.student_id, m.evidence or a.answer) for a, m in items[:MAX_EXAMPLES]
                ),
            )
        )
    stats.sort(key=lambda m: (-m.count, m.card.number, m.id))
    return stats
