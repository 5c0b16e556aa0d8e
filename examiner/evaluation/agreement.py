"""How well grades agree with teachers: grade their graded answers, then compare."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np
from pydantic import BaseModel, Field

from ..errors import ExaminerError, Problem
from ..formats.labelled import GradedAnswer
from ..models import Grade, label_for
from ..scoring.grader import Grader
from . import metrics

__all__ = ["Agreement", "Scored", "agreement", "assess_graded", "grade_graded"]


@dataclass(frozen=True)
class Scored:
    """A teacher's grade next to the machine's, with the features behind the machine's."""

    answer: GradedAnswer
    grade: Grade
    features: dict[str, float] | None
    pair: np.ndarray | None = None


def _batches(
    items: Iterable[GradedAnswer | Problem], size: int
) -> Iterator[list[GradedAnswer | Problem]]:
    stream = iter(items)
    while batch := list(islice(stream, size)):
        yield batch


def assess_graded(
    grader: Grader, graded: Iterable[GradedAnswer | Problem], source: str, batch_size: int = 256
) -> tuple[list[Scored], list[Problem]]:
    """The scorer's grades and features for graded answers (the embedding stage only)."""
    scored: list[Scored] = []
    problems: list[Problem] = []
    for batch in _batches(graded, batch_size):
        todo = []
        for item in batch:
            if isinstance(item, Problem):
                problems.append(item)
                continue
            try:
                card = grader.rubric.card(item.submission.card)
            except KeyError:
                problems.append(
                    Problem(
                        source,
                        item.submission.row,
                        f"unknown card {item.submission.card!r}",
                        "card",
                    )
                )
                continue
            todo.append((item, card))
        results = grader.scorer.assess_batch([(card, item.submission) for item, card in todo])
        scored.extend(
            Scored(item, r.grade, r.features, r.pair)
            for (item, _), r in zip(todo, results, strict=True)
        )
    return scored, problems


def grade_graded(
    grader: Grader, graded: Iterable[GradedAnswer | Problem], source: str
) -> tuple[list[Scored], list[Problem]]:
    """Final grades for graded answers, through every stage the grader runs."""
    answers: list[GradedAnswer] = []
    problems: list[Problem] = []

    def submissions() -> Iterator[object]:
        for item in graded:
            if isinstance(item, Problem):
                problems.append(item)
            else:
                answers.append(item)
                yield item.submission

    scored: list[Scored] = []
    pending = iter(answers)
    for result in grader.grade_many(submissions(), source=source):  # type: ignore[arg-type]
        answer = next(pending)
        if isinstance(result, Problem):
            problems.append(result)
        else:
            scored.append(Scored(answer, result, None))
    return scored, problems


class CardAgreement(BaseModel):
    card: str
    n: int
    human_mean: float
    machine_mean: float
    mae: float
    pearson: float


class CategoryAgreement(BaseModel):
    """How examiner does on one kind of answer (the graded file's `category`)."""

    category: str
    n: int
    human_mean: float
    machine_mean: float
    mae: float
    over: int = Field(description="Answers scored more than 0.15 above the teacher.")
    under: int = Field(description="Answers scored more than 0.15 below the teacher.")


class Disagreement(BaseModel):
    student_id: str
    card: str
    human: float
    machine: float
    answer: str


class Agreement(BaseModel):
    """Agreement figures, on the 0..1 scale unless the name says otherwise."""

    n: int
    pearson: float
    spearman: float
    rmse: float
    mae: float
    scale: float = Field(description="The data set's own maximum score.")
    rmse_on_scale: float
    qwk: float = Field(description="Quadratic weighted kappa on the scale's steps or labels.")
    qwk_bins: str
    labels: list[str]
    label_accuracy: float
    confusion: list[list[int]] = Field(description="Rows: teacher's label; columns: examiner's.")
    per_card: list[CardAgreement]
    per_category: list[CategoryAgreement] = Field(
        default_factory=list, description="Empty unless the file has a category column."
    )
    worst: list[Disagreement]


def per_category(scored: Sequence[Scored], margin: float = 0.15) -> list[CategoryAgreement]:
    """Figures per kind of answer, worst MAE first; [] when no answer has a category."""
    by_kind: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        if s.answer.category:
            by_kind[s.answer.category].append(s)
    rows = []
    for kind, items in by_kind.items():
        human = [s.answer.human for s in items]
        machine = [s.grade.score for s in items]
        rows.append(
            CategoryAgreement(
                category=kind,
                n=len(items),
                human_mean=round(float(np.mean(human)), 4),
                machine_mean=round(float(np.mean(machine)), 4),
                mae=round(metrics.mae(human, machine), 4),
                over=sum(m > h + margin for h, m in zip(human, machine, strict=True)),
                under=sum(m < h - margin for h, m in zip(human, machine, strict=True)),
            )
        )
    return sorted(rows, key=lambda r: (-r.mae, r.category))


def _two_way(answers: Sequence[GradedAnswer]) -> bool:
    return all(a.human in (0.0, 1.0) for a in answers) and all(
        a.label in (None, "correct", "incorrect") for a in answers
    )


def agreement(scored: Sequence[Scored], worst: int = 10) -> Agreement:
    if not scored:
        raise ExaminerError("no graded answer could be scored: nothing to compare")
    answers = [s.answer for s in scored]
    human = [a.human for a in answers]
    machine = [s.grade.score for s in scored]
    scale = max(a.scale for a in answers)
    two_way = _two_way(answers)
    if two_way:
        labels = ["correct", "incorrect"]
        h_labels = ["correct" if h >= 0.5 else "incorrect" for h in human]
        m_labels = ["correct" if m >= 0.5 else "incorrect" for m in machine]
    else:
        labels = ["correct", "partial", "incorrect"]
        h_labels = [a.label or label_for(a.human) for a in answers]
        m_labels = [s.grade.label for s in scored]
    if scale > 1:
        steps = list(np.arange(0, scale + 1e-9, 0.5))
        h_bins = metrics.bin_scores([h * scale for h in human], steps)
        m_bins = metrics.bin_scores([m * scale for m in machine], steps)
        n_bins, bins = len(steps), f"0..{scale:g} in half points"
    else:
        order = {label: i for i, label in enumerate(reversed(labels))}
        h_bins = [order[x] for x in h_labels]
        m_bins = [order[x] for x in m_labels]
        n_bins, bins = len(labels), "labels"

    by_card: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(scored):
        by_card[s.grade.card_id].append(i)
    per_card = [
        CardAgreement(
            card=card,
            n=len(idx),
            human_mean=round(float(np.mean([human[i] for i in idx])), 4),
            machine_mean=round(float(np.mean([machine[i] for i in idx])), 4),
            mae=round(metrics.mae([human[i] for i in idx], [machine[i] for i in idx]), 4),
            pearson=round(metrics.pearson([human[i] for i in idx], [machine[i] for i in idx]), 4),
        )
        for card, idx in by_card.items()
    ]
    order_worst = sorted(range(len(scored)), key=lambda i: -abs(human[i] - machine[i]))[:worst]
    return Agreement(
        n=len(scored),
        pearson=round(metrics.pearson(human, machine), 4),
        spearman=round(metrics.spearman(human, machine), 4),
        rmse=round(metrics.rmse(human, machine), 4),
        mae=round(metrics.mae(human, machine), 4),
        scale=scale,
        rmse_on_scale=round(metrics.rmse(human, machine) * scale, 4),
        qwk=round(metrics.quadratic_weighted_kappa(h_bins, m_bins, n_bins), 4),
        qwk_bins=bins,
        labels=labels,
        label_accuracy=round(metrics.accuracy(h_labels, m_labels), 4),
        confusion=metrics.confusion(h_labels, m_labels, labels),
        per_card=per_card,
        per_category=per_category(scored),
        worst=[
            Disagreement(
                student_id=scored[i].grade.student_id,
                card=scored[i].grade.card_id,
                human=round(human[i], 4),
                machine=round(machine[i], 4),
                answer=scored[i].answer.submission.answer,
            )
            for i in order_worst
        ],
    )
