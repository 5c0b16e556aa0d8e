"""The mapping from similarity to credit, and the thresholds around it.

A calibration belongs to one similarity space: cosine similarities of one
embedding model, or the lexical scorer's overlap. Applying it to another
model's numbers would be meaningless, so it names the model it was fitted for
and `check_model` refuses a mismatch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError

__all__ = ["Calibration", "default_calibration", "load_calibration", "save_calibration"]


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
    keyword_list_cap: float = Field(default=0.35, ge=0, le=1)
    contradiction_factor: float = Field(default=0.5, ge=0, le=1)
    review_below: float = Field(default=0.45, ge=0, le=1, description="needs_review threshold.")
    fitted_on: str = ""

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
                f"grade with --model {self.model!r}, or fit one for {model!r} "
                "with `examiner calibrate`"
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
        off_topic_threshold=0.25,
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


def default_calibration(model: str) -> Calibration:
    """The shipped calibration for a model; other models borrow the default's curve."""
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
