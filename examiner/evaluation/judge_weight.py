"""How far to trust a judge model: its weight against the embedding stage, fitted on
teacher-graded answers.

A judged grade is `embedding + weight × (judge − embedding)`. A strong model
earns a weight near 1; a weak one (a 1.5B model on 2 CPU cores) can be worse
than the embedding stage on its own, and then the fitted weight keeps it from
hurting. The weight is the one that minimises the mean absolute error against
the teacher on the graded answers the judge read; its figures are measured on
cards held out of the fit (each card in turn), never on the answers it was
fitted to, and the embedding scores it is weighed against come from
calibrations that did not see the answer's card. The judge is asked without
the teacher's graded examples: they are the very answers it is graded on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..config import JudgeSettings
from ..errors import ExaminerError
from ..judge.grading import blend
from ..models import Rubric
from ..scoring.calibration import JudgeWeight
from .agreement import Scored

__all__ = ["GRID", "MIN_JUDGED", "JudgedAnswer", "fit_judge_weight", "judge_graded"]

# Weights tried: a twentieth apart is finer than the error of a fit on ~100 answers.
GRID: np.ndarray = np.linspace(0.0, 1.0, 21)
# Fewer judged answers than this say nothing about a model's weight.
MIN_JUDGED = 20


@dataclass(frozen=True)
class JudgedAnswer:
    """One graded answer: the teacher's score, the embedding stage's, the judge's."""

    card: str
    human: float
    embedding: float
    # None: the judge gave nothing that counts (failed, or quotes not in the
    # answer); the embedding grade stands whatever the weight.
    judge: float | None


def judge_graded(
    rubric: Rubric,
    first: Sequence[Scored],
    held_out: Sequence[Scored],
    settings: JudgeSettings,
    *,
    notice: Callable[[str], None] = lambda _: None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> list[JudgedAnswer]:
    """The judge (`always`, at weight 1, no examples) on graded answers.

    `first`: the answers as grading with the calibration gives them (the
    judge is shown that reading); `held_out`: the same answers scored by
    calibrations that did not see their card (`cross_validate`), whose scores
    are the embedding stage's in the fit: on the answers it was fitted to, the
    embedding stage looks better than it is on new ones, and the judge's
    weight would come out too low. `progress(done, total)` after each answer.
    """
    from ..judge import JudgeStage

    items = [(rubric.card(s.grade.card_id), s.answer.submission, s.grade) for s in first]
    judged: list[JudgedAnswer] = []
    at_one = replace(settings, mode="always", weight=1.0)
    with JudgeStage(at_one, notice=notice) as stage:
        for held, final in zip(held_out, stage.judge_many(items), strict=True):
            judge = final.score if final.scorer == "judge" else None
            judged.append(
                JudgedAnswer(held.grade.card_id, held.answer.human, held.grade.score, judge)
            )
            progress(len(judged), len(items))
    return judged


def _blend(answers: Sequence[JudgedAnswer], weight: float) -> np.ndarray:
    """The scores grading gives these answers at `weight`."""
    return np.array(
        [a.embedding if a.judge is None else blend(a.embedding, a.judge, weight) for a in answers]
    )


def _best(answers: Sequence[JudgedAnswer]) -> float:
    """The grid weight with the lowest MAE (the smaller weight on a tie: trust is earned)."""
    human = np.array([a.human for a in answers])
    errors = [float(np.mean(np.abs(_blend(answers, float(w)) - human))) for w in GRID]
    return float(GRID[int(np.argmin(np.round(errors, 6)))])


def fit_judge_weight(answers: Sequence[JudgedAnswer], fitted_on: str = "") -> JudgeWeight:
    """The weight that minimises MAE, with the MAE of each stage on held-out cards."""
    judged = [a for a in answers if a.judge is not None]
    cards = sorted({a.card for a in answers})
    if len(judged) < MIN_JUDGED or len(cards) < 2:
        raise ExaminerError(
            f"fitting a judge weight needs at least {MIN_JUDGED} answers the judge judged, "
            f"on 2 cards or more; it judged {len(judged)} on "
            f"{len({a.card for a in judged})} card(s): grade more answers, or check the judge"
        )
    held_out: dict[str, list[float]] = {"embedding": [], "judge": [], "blend": []}
    for card in cards:
        train = [a for a in answers if a.card != card]
        test = [a for a in answers if a.card == card]
        weight = _best(train) if any(a.judge is not None for a in train) else 1.0
        human = np.array([a.human for a in test])
        for name, w in (("embedding", 0.0), ("judge", 1.0), ("blend", weight)):
            held_out[name] += list(np.abs(_blend(test, w) - human))
    figures = {f"mae_{name}": round(float(np.mean(e)), 4) for name, e in held_out.items()}
    return JudgeWeight(
        weight=_best(answers),
        answers=len(judged),
        fitted_on=fitted_on,
        cross_validation=figures,
    )
