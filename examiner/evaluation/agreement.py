"""How well grades agree with teachers, and fitting the calibration that makes them agree.

Cross-validation folds are grouped by card: every figure reported for a fit
says how the calibration does on questions it was not fitted on, which is how
it will be used.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np
from pydantic import BaseModel, Field

from . import metrics
from .calibration import Calibration, ScoreModel, fit_head, fit_score_model
from .errors import ExaminerError, Problem
from .features import FEATURES
from .graded import GradedAnswer
from .models import Grade, label_for
from .pipeline import Grader
from .scorers.base import ruled_score

__all__ = [
    "Agreement",
    "Scored",
    "agreement",
    "assess_graded",
    "cross_validate",
    "fit_calibration",
    "fit_model",
    "grade_graded",
    "group_folds",
    "head_tried",
]


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
    worst: list[Disagreement]


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


def group_folds(groups: Sequence[str], k: int) -> np.ndarray:
    """A fold per group, stable across runs and machines (by a hash of the group)."""
    unique = sorted(set(groups), key=lambda g: hashlib.sha256(g.encode()).hexdigest())
    k = max(2, min(k, len(unique)))
    fold_of = {g: i % k for i, g in enumerate(unique)}
    return np.array([fold_of[g] for g in groups])


def _matrix(rows: Sequence[dict[str, float]], names: Sequence[str]) -> np.ndarray:
    return np.array([[row[n] for n in names] for row in rows], dtype=float)


def _pairs(rows: Sequence[Scored]) -> np.ndarray | None:
    """Pair features as rows (NaN where an answer has none), or None if none has any."""
    width = next((len(s.pair) for s in rows if s.pair is not None), 0)
    if not width:
        return None
    missing = np.full(width, np.nan)
    return np.vstack([missing if s.pair is None else s.pair for s in rows])


# Penalties tried for a similarity head, and the answers it needs before one is tried:
# below a few hundred answers, a thousand weights only learn the cards they saw.
HEAD_PENALTIES = (300.0, 1000.0, 3000.0)
HEAD_MIN_ANSWERS = 300
# A head is a thousand weights nobody can read: it must cut the held-out cross-entropy by
# this share to be kept. Where one helps it cuts 13-15 % (a one-domain course); where it
# does not, under 3 % of noise (measured on the shared data sets, all folds).
HEAD_MIN_GAIN = 0.05


def _enough_for_head(answers: int, cards: int) -> bool:
    """Enough answers with pair features, over enough cards, to try a head on held-out cards."""
    return answers >= HEAD_MIN_ANSWERS and cards >= 4


def head_tried(scored: Sequence[Scored]) -> bool:
    """Whether `fit_calibration` tries a similarity head on these answers."""
    rows = [s for s in scored if s.features is not None and s.pair is not None]
    return _enough_for_head(len(rows), len({s.grade.card_id for s in rows}))


def _cross_entropy(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def _head_penalty(
    names: Sequence[str], x: np.ndarray, y: np.ndarray, pairs: np.ndarray, groups: Sequence[str]
) -> float | None:
    """The penalty whose head predicts held-out cards best, or None if none does clearly better."""
    folds = group_folds(groups, 4)
    held_out: dict[float | None, np.ndarray] = {
        l2: np.zeros(len(y)) for l2 in (None, *HEAD_PENALTIES)
    }
    for fold in sorted(set(folds.tolist())):
        train, test = folds != fold, folds == fold
        model = fit_score_model(list(names), x[train], y[train])
        base_train, base_test = model.predict_many(x[train]), model.predict_many(x[test])
        held_out[None][test] = base_test
        ok = ~np.isnan(pairs[train]).any(axis=1)
        for l2 in HEAD_PENALTIES:
            head = fit_head(pairs[train][ok], base_train[ok], y[train][ok], l2)
            with_head = model.model_copy(update={"head": head})
            held_out[l2][test] = with_head.predict_many(x[test], None, pairs[test])
    loss = {l2: _cross_entropy(p, y) for l2, p in held_out.items()}
    best = min(loss, key=lambda l2: loss[l2])
    return best if loss[best] <= (1 - HEAD_MIN_GAIN) * loss[None] else None


def fit_model(
    names: Sequence[str],
    x: np.ndarray,
    y: np.ndarray,
    pairs: np.ndarray | None = None,
    groups: Sequence[str] = (),
    head: bool = True,
) -> ScoreModel:
    """The score model, with a similarity head where one predicts held-out cards better.

    The head is chosen (or not) by cross-validation grouped by card inside
    these answers, so a figure measured on other cards stays honest.
    """
    model = fit_score_model(list(names), x, y)
    if not head or pairs is None:
        return model
    ok = ~np.isnan(pairs).any(axis=1)
    if not _enough_for_head(int(ok.sum()), len({g for g, o in zip(groups, ok, strict=True) if o})):
        return model
    l2 = _head_penalty(names, x, y, pairs, groups)
    if l2 is None:
        return model
    fitted = fit_head(pairs[ok], model.predict_many(x[ok]), y[ok], l2)
    return model.model_copy(update={"head": fitted})


def cross_validate(
    scored: Sequence[Scored],
    base: Calibration,
    k: int = 5,
    names: Sequence[str] = FEATURES,
    head: bool = True,
) -> list[Scored]:
    """Each answer re-scored by a calibration fitted on the other folds' cards."""
    positions = [i for i, s in enumerate(scored) if s.features is not None]
    measured = [scored[i] for i in positions]
    groups = [s.grade.card_id for s in measured]
    if len(set(groups)) < 2:
        raise ExaminerError("cross-validation needs graded answers to at least two cards")
    folds = group_folds(groups, k)
    x = _matrix([s.features or {} for s in measured], names)
    y = np.array([s.answer.human for s in measured])
    pairs = _pairs(measured)
    coverage = np.array([(s.features or {})["coverage"] for s in measured])
    predicted = np.zeros(len(measured))
    for fold in sorted(set(folds.tolist())):
        train, test = folds != fold, folds == fold
        train_groups = [g for g, t in zip(groups, train, strict=True) if t]
        model = fit_model(
            names, x[train], y[train], None if pairs is None else pairs[train], train_groups, head
        )
        test_pairs = None if pairs is None else pairs[test]
        predicted[test] = model.predict_many(x[test], coverage[test], test_pairs)
    out = list(scored)
    for i, score in zip(positions, predicted, strict=True):
        out[i] = _rescored(scored[i], base, float(score))
    return out


def _rescored(s: Scored, cal: Calibration, model_score: float) -> Scored:
    """The grade with the score a fitted model gives, under the same rules as `assess`."""
    grade = s.grade
    score = ruled_score(model_score, s.features or {}, grade.misconceptions, grade.flags, cal)
    updated = grade.model_copy(
        update={
            "score": round(score, 4),
            "points": round(score * grade.max_points, 4),
            "label": label_for(score),
        }
    )
    return Scored(s.answer, updated, s.features, s.pair)


def fit_calibration(
    scored: Sequence[Scored],
    base: Calibration,
    folds: int = 5,
    fitted_on: str = "",
    head: bool = True,
) -> tuple[Calibration, Agreement]:
    """A calibration fitted on all the answers, and its cross-validated agreement."""
    cv = agreement(cross_validate(scored, base, folds, head=head))
    rows = [s for s in scored if s.features is not None]
    model = fit_model(
        FEATURES,
        _matrix([s.features or {} for s in rows], FEATURES),
        np.array([s.answer.human for s in rows]),
        _pairs(rows),
        [s.grade.card_id for s in rows],
        head,
    )
    fitted = base.model_copy(
        update={
            "score_model": model,
            "fitted_on": fitted_on,
            "cross_validation": {
                "folds": float(folds),
                "n": float(cv.n),
                "pearson": cv.pearson,
                "rmse": cv.rmse,
                "mae": cv.mae,
                "label_accuracy": cv.label_accuracy,
            },
        }
    )
    return fitted, cv
