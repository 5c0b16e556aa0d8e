"""The core types. Pure data: no I/O, no models, no CLI.

A rubric file is the YAML form of `Rubric`; a result row is the JSON form of
`Grade`. Unknown fields are refused so that a typo in a rubric is reported
instead of silently ignored.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "Card",
    "Deck",
    "Flag",
    "Grade",
    "KeyPoint",
    "KeyPointResult",
    "Label",
    "Misconception",
    "MisconceptionResult",
    "Rubric",
    "RubricCard",
    "ScorerName",
    "StageResult",
    "Status",
    "StudentFeedback",
    "Submission",
    "label_for",
    "status_for",
]

Status = Literal["covered", "partial", "missing"]
Label = Literal["correct", "partial", "incorrect"]
ScorerName = Literal["embedding", "lexical", "judge"]

# Score boundaries of the labels: a strict but fair teacher's reading of
# "fully right" and "has something right".
CORRECT_AT = 0.8
PARTIAL_AT = 0.3
# Coverage boundaries of a key point's status: a different fact from the
# labels' boundaries (one point's coverage, not a card's score), even where
# the numbers agree.
KEY_POINT_COVERED_AT = 0.7
KEY_POINT_PARTIAL_AT = 0.3


def label_for(score: float) -> Label:
    if score >= CORRECT_AT:
        return "correct"
    if score >= PARTIAL_AT:
        return "partial"
    return "incorrect"


def status_for(coverage: float) -> Status:
    if coverage >= KEY_POINT_COVERED_AT:
        return "covered"
    if coverage >= KEY_POINT_PARTIAL_AT:
        return "partial"
    return "missing"


class Flag(StrEnum):
    """Why a grade deserves a second look. Stored and exported by value."""

    EMPTY = "empty"
    OFF_TOPIC = "off_topic"
    POSSIBLE_INJECTION = "possible_injection"
    POSSIBLE_CONTRADICTION = "possible_contradiction"
    KEYWORD_LIST = "keyword_list"
    NEEDS_REVIEW = "needs_review"
    JUDGE_FAILED = "judge_failed"
    UNVERIFIED_QUOTE = "unverified_quote"
    STAGE_DISAGREEMENT = "stage_disagreement"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Card(_Strict):
    """A flashcard: a question and its reference answer."""

    id: str = Field(min_length=1, description="Stable id, unique in its deck.")
    question: str = Field(min_length=1)
    reference_answer: str = Field(default="", description="The deck's answer, verbatim.")


class Deck(_Strict):
    title: str = ""
    source: str = ""
    cards: list[Card]


class KeyPoint(_Strict):
    """One thing a full answer must say."""

    id: str = Field(min_length=1)
    text: str = Field(min_length=1, description="The point, stated as a student might.")
    weight: float = Field(default=1.0, gt=0, description="Relative share of the card's credit.")
    alternatives: list[str] = Field(
        default_factory=list, description="Other phrasings that earn the same credit."
    )

    @property
    def phrasings(self) -> list[str]:
        return [self.text, *self.alternatives]


class Misconception(_Strict):
    """A false statement students make, and what it costs."""

    id: str = Field(min_length=1)
    text: str = Field(min_length=1, description="The false statement, as a student would put it.")
    penalty: float = Field(default=0.25, gt=0, le=1, description="Taken off the 0..1 score.")
    alternatives: list[str] = Field(default_factory=list)
    correction: str = Field(default="", description="What is true instead, shown in feedback.")

    @property
    def phrasings(self) -> list[str]:
        return [self.text, *self.alternatives]


class RubricCard(Card):
    max_points: float = Field(default=1.0, gt=0)
    key_points: list[KeyPoint] = Field(min_length=1)
    misconceptions: list[Misconception] = Field(default_factory=list)

    @field_validator("key_points")
    @classmethod
    def _unique_key_point_ids(cls, points: list[KeyPoint]) -> list[KeyPoint]:
        _refuse_duplicates([p.id for p in points], "key point")
        return points

    @field_validator("misconceptions")
    @classmethod
    def _unique_misconception_ids(cls, items: list[Misconception]) -> list[Misconception]:
        _refuse_duplicates([m.id for m in items], "misconception")
        return items

    @property
    def total_weight(self) -> float:
        return sum(p.weight for p in self.key_points)


class Rubric(_Strict):
    title: str = ""
    version: int | str = 1
    cards: list[RubricCard] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_card_ids(self) -> Rubric:
        _refuse_duplicates([c.id for c in self.cards], "card")
        return self

    def card(self, ref: str | int) -> RubricCard:
        """Find a card by id, 1-based number or exact question text; KeyError if none."""
        text = str(ref).strip()
        for card in self.cards:
            if card.id == text:
                return card
        if text.isdigit() and 1 <= int(text) <= len(self.cards):
            return self.cards[int(text) - 1]
        folded = " ".join(text.split()).casefold()
        for card in self.cards:
            if " ".join(card.question.split()).casefold() == folded:
                return card
        raise KeyError(text)


def _refuse_duplicates(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"duplicate {what} id {item!r}")
        seen.add(item)


class Submission(_Strict):
    """One student's answer to one card, as read from a file or typed."""

    student_id: str = Field(min_length=1)
    card: str = Field(min_length=1, description="Card id, 1-based number or question text.")
    answer: str = ""
    row: int | None = Field(default=None, description="Line or row in the source file.")
    answer_id: str | None = None
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class KeyPointResult(_Strict):
    key_point_id: str
    text: str
    coverage: float = Field(ge=0, le=1)
    status: Status
    similarity: float = Field(description="Best raw similarity over segments and phrasings.")
    evidence: str = Field(default="", description="The answer segment that matched, verbatim.")
    reason: str = Field(default="", description="The judge's one-line reason (judge stage only).")


class MisconceptionResult(_Strict):
    misconception_id: str
    text: str
    penalty: float = Field(ge=0, le=1)
    evidence: str = ""
    correction: str = ""


class StudentFeedback(_Strict):
    """The judge's feedback to the student, in three parts."""

    right: str = ""
    missing: str = ""
    next_step: str = ""


class StageResult(_Strict):
    """What one stage concluded on its own. A Grade keeps both when both ran."""

    scorer: ScorerName
    score: float = Field(ge=0, le=1)
    label: Label
    confidence: float | None = Field(default=None, ge=0, le=1)
    key_points: list[KeyPointResult] = Field(default_factory=list)
    misconceptions: list[MisconceptionResult] = Field(default_factory=list)
    model: str = ""
    model_score: float | None = Field(
        default=None, description="The judge's own overall number: recorded, never used."
    )
    injection_reported: bool = Field(
        default=False, description="The judge reported text addressed to the grader."
    )
    cached: bool = Field(default=False, description="The verdict came from the judge cache.")
    tokens_in: int = Field(default=0, ge=0)
    tokens_out: int = Field(default=0, ge=0)


class Grade(_Strict):
    """The grade of one answer, with everything needed to explain it.

    `scorer` names the stage that decided. When the judge ran and gave a
    verdict, `embedding` and `judge` keep each stage's own result.
    """

    student_id: str
    card_id: str
    answer: str
    score: float = Field(ge=0, le=1)
    points: float = Field(ge=0)
    max_points: float = Field(gt=0)
    label: Label
    key_points: list[KeyPointResult]
    misconceptions: list[MisconceptionResult] = Field(default_factory=list)
    feedback: str = ""
    scorer: ScorerName
    confidence: float = Field(ge=0, le=1)
    flags: list[Flag] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="Why each flag was raised.")
    models: dict[str, str] = Field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0
    row: int | None = None
    answer_id: str | None = None
    embedding: StageResult | None = Field(
        default=None, description="The embedding stage's result, when the judge decided."
    )
    judge: StageResult | None = Field(
        default=None, description="The judge's verified result, when it gave one."
    )
    judge_feedback: StudentFeedback | None = None

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    def with_score(self, score: float, **update: Any) -> Grade:
        """This grade with another score (rounded), its points and label to match."""
        return self.model_copy(
            update={
                "score": round(score, 4),
                "points": round(score * self.max_points, 4),
                "label": label_for(score),
                **update,
            }
        )
