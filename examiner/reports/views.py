"""What a report shows, as plain frozen data: the types `gather` fills and renderers read.

Renderers only format: every number a report prints is a field or a
property here, computed once (see `gather.py` for where they come from).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ..errors import ExaminerError
from ..models import Status, StudentFeedback
from ..store import is_review_flag

__all__ = [
    "AnswerView",
    "CardInfo",
    "CardStats",
    "KeyPointInfo",
    "KeyPointStats",
    "KeyPointView",
    "MisconceptionStats",
    "MisconceptionView",
    "ReportData",
    "RunView",
    "StudentView",
    "TeacherReview",
    "points2",
]


def points2(value: float) -> float:
    """Points as shown and summed everywhere: two decimals."""
    return round(value + 0.0, 2)


@dataclass(frozen=True)
class KeyPointInfo:
    id: str
    text: str


@dataclass(frozen=True)
class CardInfo:
    """A card as the reports name it: its number in the rubric, id and question."""

    number: int
    id: str
    question: str
    max_points: float
    key_points: tuple[KeyPointInfo, ...]
    in_rubric: bool = True

    @property
    def anchor(self) -> str:
        return f"card-{self.number}"


@dataclass(frozen=True)
class KeyPointView:
    id: str
    text: str  # the rubric's point: what to learn when it is missing
    status: Status
    coverage: float
    evidence: str  # the student's own words that matched, verbatim
    reason: str = ""  # the judge's one-line reason, when it ran


@dataclass(frozen=True)
class MisconceptionView:
    id: str
    text: str
    evidence: str
    correction: str
    penalty: float


@dataclass(frozen=True)
class TeacherReview:
    """A teacher's decision on an answer; an override replaced the machine's grade."""

    action: Literal["accept", "override"]
    author: str
    note: str
    when: str
    machine_score: float
    machine_points: float

    @property
    def overridden(self) -> bool:
        return self.action == "override"


@dataclass(frozen=True)
class AnswerView:
    """One answer as it stands: the teacher's grade when there is one."""

    student_id: str
    card: CardInfo
    answer_id: str
    answer: str
    score: float
    points: float  # two decimals
    max_points: float
    label: str
    scorer: str
    confidence: float
    flags: tuple[str, ...]
    notes: tuple[str, ...]  # redacted
    key_points: tuple[KeyPointView, ...]
    misconceptions: tuple[MisconceptionView, ...]
    feedback: str
    judge_feedback: StudentFeedback | None  # the judge's, scrubbed
    review: TeacherReview | None
    run_id: int
    tokens: int

    @property
    def awaiting_review(self) -> bool:
        """Flagged for a teacher's look and not yet looked at."""
        return self.review is None and any(is_review_flag(f) for f in self.flags)

    @property
    def for_review(self) -> bool:
        """On the review list (reviewed or not): flagged by a review flag, or reviewed."""
        return self.review is not None or any(is_review_flag(f) for f in self.flags)

    def count(self, status: Status) -> int:
        return sum(k.status == status for k in self.key_points)

    @property
    def summary(self) -> tuple[str, ...]:
        """The feedback's lines, less the misconceptions (reports show them on their own)."""
        lines = [line.strip() for line in self.feedback.splitlines() if line.strip()]
        if self.misconceptions:
            lines = [line for line in lines if not line.startswith("Not true:")]
        return tuple(lines)


@dataclass(frozen=True)
class StudentView:
    student_id: str
    slug: str  # file name stem, unique in the report, safe on every file system
    answers: tuple[AnswerView, ...]  # in card order; several per card when re-answered
    counted: Mapping[str, AnswerView]  # card id → the answer the gradebook counts
    points: float
    possible: float
    percent: float
    missing_cards: tuple[CardInfo, ...]

    @property
    def labels(self) -> Counter[str]:
        return Counter(a.label for a in self.counted.values())


@dataclass(frozen=True)
class CardStats:
    card: CardInfo
    answers: int
    mean: float
    sd: float
    median: float
    low: float
    high: float
    mean_points: float
    labels: Mapping[str, int]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class KeyPointStats:
    card: CardInfo
    key_point: KeyPointInfo
    position: int  # 1-based, in the card
    answers: int
    covered: int
    partial: int
    missing: int

    @property
    def coverage(self) -> float:
        """Share of the credit the class earned on this point (partial counts half)."""
        if not self.answers:
            return 0.0
        return (self.covered + 0.5 * self.partial) / self.answers

    @property
    def missed(self) -> float:
        return self.missing / self.answers if self.answers else 0.0


@dataclass(frozen=True)
class MisconceptionStats:
    card: CardInfo
    id: str
    text: str
    correction: str
    count: int
    students: tuple[str, ...]
    examples: tuple[tuple[str, str], ...]  # (student id, the words that stated it)


@dataclass(frozen=True)
class RunView:
    """What a teacher needs to know about a run; no host, path or address."""

    id: int
    started: str
    finished: str
    status: str
    rubric: str
    answers_file: str
    scorer: str
    model: str
    calibration: str
    judge: str
    answers: int
    flagged: int
    tokens_in: int
    tokens_out: int


@dataclass(frozen=True)
class ReportData:
    title: str
    database: str  # its file name only
    scope: str
    generated: str
    cards: tuple[CardInfo, ...]
    students: tuple[StudentView, ...]
    answers: tuple[AnswerView, ...]
    card_stats: tuple[CardStats, ...]
    key_point_stats: tuple[KeyPointStats, ...]
    misconceptions: tuple[MisconceptionStats, ...]
    runs: tuple[RunView, ...]
    notices: tuple[str, ...] = field(default=())

    @property
    def possible(self) -> float:
        return points2(sum(c.max_points for c in self.cards))

    @property
    def scores(self) -> list[float]:
        return [a.score for a in self.answers]

    @property
    def mean_score(self) -> float:
        return statistics.fmean(self.scores) if self.answers else 0.0

    @property
    def median_percent(self) -> float:
        return statistics.median(s.percent for s in self.students) if self.students else 0.0

    @property
    def mean_percent(self) -> float:
        return statistics.fmean(s.percent for s in self.students) if self.students else 0.0

    @property
    def labels(self) -> Counter[str]:
        return Counter(a.label for a in self.answers)

    @property
    def for_review(self) -> list[AnswerView]:
        return [a for a in self.answers if a.for_review]

    @property
    def awaiting_review(self) -> int:
        return sum(a.awaiting_review for a in self.answers)

    @property
    def most_missed(self) -> list[KeyPointStats]:
        """Key points by how many answers missed them, most-missed first."""
        return sorted(
            (k for k in self.key_point_stats if k.answers),
            key=lambda k: (-k.missed, k.coverage, k.card.number, k.position),
        )

    @property
    def tokens(self) -> tuple[int, int]:
        return sum(r.tokens_in for r in self.runs), sum(r.tokens_out for r in self.runs)

    def student(self, student_id: str) -> StudentView:
        for s in self.students:
            if s.student_id == student_id:
                return s
        shown = ", ".join(s.student_id for s in self.students[:10])
        more = ", …" if len(self.students) > 10 else ""
        raise ExaminerError(f"no student {student_id!r} in the report; students: {shown}{more}")
