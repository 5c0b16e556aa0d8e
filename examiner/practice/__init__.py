"""Practice: typed answers, instant feedback, spaced repetition (fsrs)."""

from .history import Attempt, PracticeHistory, default_history_db, rubric_key
from .schedule import (
    RATING_THRESHOLDS,
    RATINGS,
    CardState,
    RatingName,
    Schedule,
    order_cards,
    suggest_rating,
)
from .stats import CardProgress, KeyPointProgress, PracticeStats, practice_stats

__all__ = [
    "RATINGS",
    "RATING_THRESHOLDS",
    "Attempt",
    "CardProgress",
    "CardState",
    "KeyPointProgress",
    "PracticeHistory",
    "PracticeStats",
    "RatingName",
    "Schedule",
    "default_history_db",
    "order_cards",
    "practice_stats",
    "rubric_key",
    "suggest_rating",
]
