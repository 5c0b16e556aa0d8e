"""Fitting a calibration to teachers' grades, and cross-validating it by card.

Folds are grouped by card: every figure reported for a fit says how the
calibration does on questions it was not fitted on, which is how it will be
used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from ..errors import ExaminerError
from ..scoring.calibration import Calibration, ScoreModel, fit_head, fit_score_model
from ..scoring.features import measured_features
from ..scoring.rules import ruled_score
from .agreement import Agreement, Scored, agreement

__all__ = [
    "HEAD_MIN_ANSWERS",
    "cross_validate",
    "fit_calibration",
    "fit_model",
    "group_folds",
    "head_tried",
]


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
    names: Sequence[str] | None = None,
    head: bool = True,
) -> list[Scored]:
    """Each answer re-scored by a calibration fitted on the other folds' cards."""
    positions = [i for i, s in enumerate(scored) if s.features is not None]
    measured = [scored[i] for i in positions]
    if names is None:
        names = measured_features(s.features or {} for s in measured)
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


def rescore(scored: Sequence[Scored], cal: Calibration) -> list[Scored]:
    """The answers graded by another calibration, from the features already measured.

    What `examiner grade --calibration` would give, without measuring again
    (features are measured with the hand-set curve, as `assess_graded` does).
    """
    model = cal.score_model
    out: list[Scored] = []
    for s in scored:
        if s.features is None or model is None:
            out.append(s)
            continue
        out.append(_rescored(s, cal, model.predict(s.features, s.pair)))
    return out


def _rescored(s: Scored, cal: Calibration, model_score: float) -> Scored:
    """The grade with the score a fitted model gives, under the same rules as `assess`."""
    grade = s.grade
    score = ruled_score(model_score, s.features or {}, grade.misconceptions, grade.flags, cal)
    return Scored(s.answer, grade.with_score(score), s.features, s.pair)


def fit_calibration(
    scored: Sequence[Scored],
    base: Calibration,
    folds: int = 5,
    fitted_on: str = "",
    head: bool = True,
    held_out: Sequence[Scored] | None = None,
) -> tuple[Calibration, Agreement]:
    """A calibration fitted on all the answers, and its cross-validated agreement.

    `held_out`: `cross_validate(scored, base, folds, head=head)` when the
    caller has it already (it is the costly part), else it is computed here.
    """
    if held_out is None:
        held_out = cross_validate(scored, base, folds, head=head)
    cv = agreement(held_out)
    rows = [s for s in scored if s.features is not None]
    names = measured_features(s.features or {} for s in rows)
    model = fit_model(
        names,
        _matrix([s.features or {} for s in rows], names),
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
