"""The mapping from similarity to credit, and the thresholds around it.

A calibration belongs to one similarity space: cosine similarities of one
embedding model, or the lexical scorer's overlap. Applying it to another
model's numbers would be meaningless, so it names the model it was fitted for
and `check_model` refuses a mismatch.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError

__all__ = [
    "Calibration",
    "JudgeWeight",
    "ScoreModel",
    "SimilarityHead",
    "default_calibration",
    "fit_head",
    "fit_score_model",
    "hand_set_calibration",
    "load_calibration",
    "save_calibration",
]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)), dtype=np.float64)


class SimilarityHead(BaseModel):
    """A learned weighting of embedding dimensions, fitted on one course's graded answers.

    It reads `similarity.pair_features` (how the answer meets its closest
    reference and the question) and shifts the score model's log-odds. One
    course's teachers reward some kinds of agreement more than others
    ("connected" against "separated by a gap" in a circuits course); a cosine
    weighs every dimension alike. It learns a domain, so it helps on new
    questions of the course it was fitted on and hurts elsewhere: `examiner
    calibrate` keeps it only when it does better on held-out cards, and the
    shipped calibration, fitted across courses, has none.
    """

    model_config = ConfigDict(extra="forbid")

    l2: float = Field(gt=0, description="Its penalty, chosen on held-out cards.")
    mean: list[float]
    scale: list[float]
    weights: list[float]

    def shift(self, pairs: np.ndarray) -> np.ndarray:
        """Log-odds added to each row; 0 for rows without pair features (NaN)."""
        if pairs.shape[1] != len(self.weights):
            raise ConfigError(
                f"the calibration's similarity head reads {len(self.weights)} values, "
                f"the scorer gave {pairs.shape[1]}: fit it again with `examiner calibrate`"
            )
        z = (pairs - np.array(self.mean)) / np.array(self.scale) @ np.array(self.weights)
        return np.asarray(np.nan_to_num(z, nan=0.0), dtype=np.float64)


class ScoreModel(BaseModel):
    """Credit as a logistic function of standardised, named features.

    Small and readable on purpose: each weight says how much one signal moves
    the grade, so a teacher can see what the calibration learned.
    """

    model_config = ConfigDict(extra="forbid")

    features: list[str] = Field(min_length=1)
    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float
    coverage_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of the score that stays the rubric's own key-point coverage "
        "(fitted: large where the rubric's key points agree with teachers).",
    )
    head: SimilarityHead | None = Field(
        default=None, description="A course's learned similarity head, where it earned its place."
    )

    def predict(self, values: dict[str, float], pair: np.ndarray | None = None) -> float:
        """The score of one answer's features.

        A signal the scorer could not measure (the checker's, where it is not
        installed) counts as average: it moves the score neither way.
        """
        average = dict(zip(self.features, self.mean, strict=True))
        x = np.array([[values.get(name, average[name]) for name in self.features]])
        pairs = None if pair is None else pair[None, :]
        return float(self.predict_many(x, np.array([values.get("coverage", 0.0)]), pairs)[0])

    def predict_many(
        self, x: np.ndarray, coverage: np.ndarray | None = None, pairs: np.ndarray | None = None
    ) -> np.ndarray:
        """Scores for rows of features; `coverage` is the rubric's own score of each row.

        A share of the score stays with the rubric, so a teacher's curated key
        points are never overruled entirely by signals fitted on other courses.
        `pairs` feed the similarity head, if there is one (NaN rows: none).
        """
        base = self._predict_base(x, coverage)
        if self.head is None or pairs is None:
            return base
        return np.asarray(1.0 / (1.0 + np.exp(-(_logit(base) + self.head.shift(pairs)))))

    def _predict_base(self, x: np.ndarray, coverage: np.ndarray | None) -> np.ndarray:
        z = (x - np.array(self.mean)) / np.array(self.scale) @ np.array(self.weights) + self.bias
        fitted = 1.0 / (1.0 + np.exp(-z))
        if coverage is None:
            if "coverage" not in self.features:
                return np.asarray(fitted, dtype=np.float64)
            coverage = x[:, self.features.index("coverage")]
        share = self.coverage_share
        return np.asarray((1 - share) * fitted + share * coverage, dtype=np.float64)


def _standardisation(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return mean, scale


def _newton_logistic(
    z: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray,
    penalty: np.ndarray,
    offset: np.ndarray | float = 0.0,
    tolerance: float = 1e-8,
) -> np.ndarray:
    """Penalised logistic regression on fractional targets; `offset` log-odds stay fixed."""
    beta = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(offset + z @ beta)))
        grad = z.T @ (sample_weight * (p - y)) + penalty * beta
        hess = (z * (sample_weight * p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < tolerance:
            break
    return beta


def fit_score_model(
    features: list[str],
    x: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    l2: float = 10.0,
) -> ScoreModel:
    """Logistic regression on fractional credit (0..1), by Newton's method.

    Teachers' partial credit is a target in its own right, so the loss is the
    cross-entropy against the fraction, not against a thresholded label. The
    L2 penalty keeps weights small: with a dozen correlated signals and a few
    dozen questions, an unpenalised fit chases the questions it was fitted on
    (10 was best on held-out questions of the shared data sets).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.clip(np.asarray(y, dtype=np.float64), 0.0, 1.0)
    w_s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    mean, scale = _standardisation(x)
    z = np.hstack([(x - mean) / scale, np.ones((len(y), 1))])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0  # the intercept is not shrunk
    beta = _newton_logistic(z, y, w_s, penalty)
    model = ScoreModel(
        features=list(features),
        mean=[float(v) for v in mean],
        scale=[float(v) for v in scale],
        weights=[float(v) for v in beta[:-1]],
        bias=float(beta[-1]),
        coverage_share=0.0,
    )
    if "coverage" not in features:
        return model
    # How much the rubric's own coverage should keep: least squares, 0..1.
    fitted = model.predict_many(x, np.zeros(len(y)))
    coverage = x[:, list(features).index("coverage")]
    gap = coverage - fitted
    denom = float((w_s * gap * gap).sum())
    share = float((w_s * gap * (y - fitted)).sum()) / denom if denom > 0 else 0.0
    return model.model_copy(update={"coverage_share": round(min(1.0, max(0.0, share)), 4)})


def fit_head(
    pairs: np.ndarray,
    base: np.ndarray,
    y: np.ndarray,
    l2: float,
    sample_weight: np.ndarray | None = None,
) -> SimilarityHead:
    """A similarity head on top of a score model's predictions (`base`), by Newton's method.

    The same fractional cross-entropy as `fit_score_model`; the base model's
    log-odds stay fixed, so the head learns only what the named features
    missed. A thousand weights on a few thousand answers: the penalty does the
    real work, and the caller chooses it on held-out cards.
    """
    pairs = np.asarray(pairs, dtype=np.float64)
    y = np.clip(np.asarray(y, dtype=np.float64), 0.0, 1.0)
    w_s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    mean, scale = _standardisation(pairs)
    offset = _logit(np.asarray(base, dtype=np.float64))
    penalty = np.full(pairs.shape[1], l2)
    beta = _newton_logistic((pairs - mean) / scale, y, w_s, penalty, offset, tolerance=1e-6)
    return SimilarityHead(
        l2=l2,
        mean=[float(v) for v in mean],
        scale=[float(v) for v in scale],
        weights=[float(v) for v in beta],
    )


class JudgeWeight(BaseModel):
    """How far one judge model's score moves the grade from the embedding stage's.

    The final score is `embedding + weight × (judge − embedding)`: 1 takes the
    judge's verified score, 0 ignores it. Fitted on teacher-graded answers.
    """

    model_config = ConfigDict(extra="forbid")

    weight: float = Field(ge=0, le=1)
    answers: int = Field(ge=0, description="Graded answers the judge read to fit it.")
    fitted_on: str = ""
    cross_validation: dict[str, float] = Field(
        default_factory=dict, description="MAE on held-out cards: embedding, judge, blend."
    )


class Calibration(BaseModel):
    """Similarity → coverage as a monotone piecewise-linear curve, plus thresholds."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Embedding model name, or 'lexical'.")
    coverage_knots: list[tuple[float, float]] = Field(
        min_length=2, description="(similarity, coverage) points; interpolated, clamped."
    )
    misconception_threshold: float = Field(
        description="Similarity above which a segment may state a misconception."
    )
    misconception_margin: float = Field(
        default=0.02,
        description="How much closer to the misconception than to any key point it must be.",
    )
    off_topic_threshold: float = Field(
        description="Below this best similarity to anything on the card, the answer is off topic."
    )
    other_card_margin: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="An answer closer than this to another card's key points than to its "
        "own card's is off topic.",
    )
    keyword_list_cap: float = Field(
        default=0.3, ge=0, le=1, description="Most a list of terms can earn."
    )
    contradiction_factor: float = Field(default=0.5, ge=0, le=1)
    checker_contradiction_at: float = Field(
        default=0.7,
        ge=0.5,
        le=1,
        description="P(contradicts) from the answer checker at which a key point counts as "
        "contradicted (and it must be above P(states)).",
    )
    checker_states_at: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Below this P(states) for the reference and every key point checked, "
        "the answer checker finds nothing on the card stated: the answer earns at most its "
        "coverage.",
    )
    review_below: float = Field(default=0.45, ge=0, le=1, description="needs_review threshold.")
    score_model: ScoreModel | None = Field(
        default=None, description="Features → credit; without it the score is the coverage."
    )
    fitted_on: str = ""
    cross_validation: dict[str, float] = Field(
        default_factory=dict, description="Agreement on held-out questions when it was fitted."
    )
    judge_weights: dict[str, JudgeWeight] = Field(
        default_factory=dict, description="Judge model name → its weight against this stage."
    )

    @field_validator("coverage_knots")
    @classmethod
    def _monotone(cls, knots: list[tuple[float, float]]) -> list[tuple[float, float]]:
        xs = [x for x, _ in knots]
        ys = [y for _, y in knots]
        if xs != sorted(xs) or len(set(xs)) != len(xs):
            raise ValueError("coverage knots must have strictly increasing similarities")
        if ys != sorted(ys) or not all(0 <= y <= 1 for y in ys):
            raise ValueError("coverage must rise from 0 to 1 along the knots")
        return knots

    def coverage(self, similarity: np.ndarray) -> np.ndarray:
        xs, ys = zip(*self.coverage_knots, strict=True)
        return np.asarray(np.interp(similarity, xs, ys), dtype=np.float64)

    def partial_similarity(self) -> float:
        """The similarity at which coverage reaches one half: the decision point."""
        xs, ys = zip(*self.coverage_knots, strict=True)
        return float(np.interp(0.5, ys, xs))

    def check_model(self, model: str) -> None:
        if self.model != model:
            raise ConfigError(
                f"this calibration was fitted for {self.model!r}, not {model!r}: "
                f"grade with the model {self.model!r}, or fit one for {model!r} "
                "with `examiner calibrate`",
                setting="model",
            )


# Defaults chosen by reading similarities of all-MiniLM-L6-v2 between rubric
# key points and graded answers of the CNN lesson: paraphrases of a point
# land above ~0.6, related but different statements around 0.3-0.45.
_DEFAULTS = {
    "all-MiniLM-L6-v2": Calibration(
        model="all-MiniLM-L6-v2",
        coverage_knots=[(0.30, 0.0), (0.45, 0.35), (0.60, 0.85), (0.70, 1.0)],
        misconception_threshold=0.72,
        misconception_margin=0.06,
        off_topic_threshold=0.15,
        fitted_on="hand-set defaults",
    ),
    "lexical": Calibration(
        model="lexical",
        coverage_knots=[(0.15, 0.0), (0.35, 0.4), (0.6, 0.9), (0.75, 1.0)],
        misconception_threshold=0.7,
        off_topic_threshold=0.05,
        fitted_on="hand-set defaults",
    ),
}


_PACKAGED = Path(__file__).parents[1] / "data"


def hand_set_calibration(model: str) -> Calibration:
    """The hand-set curve and thresholds, without a fitted score model."""
    return _DEFAULTS.get(model, _DEFAULTS["all-MiniLM-L6-v2"]).model_copy(update={"model": model})


@cache
def default_calibration(model: str) -> Calibration:
    """The shipped calibration for a model; other models borrow the default's curve.

    A calibration fitted on the shared graded data sets ships for the default
    model (`benchmarks/fit_default_calibration.py` makes it); without that file,
    or for other models, the hand-set curve stands alone.
    """
    fitted = _PACKAGED / f"calibration-{model}.json"
    if fitted.is_file():
        return load_calibration(fitted)
    if model in _DEFAULTS:
        return _DEFAULTS[model]
    return _DEFAULTS["all-MiniLM-L6-v2"].model_copy(
        update={"model": model, "fitted_on": "borrowed from all-MiniLM-L6-v2: calibrate it"}
    )


def load_calibration(path: str | Path) -> Calibration:
    path = Path(path)
    try:
        return Calibration.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such calibration file") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from exc


def save_calibration(calibration: Calibration, path: str | Path) -> None:
    Path(path).write_text(calibration.model_dump_json(indent=2) + "\n", encoding="utf-8")
