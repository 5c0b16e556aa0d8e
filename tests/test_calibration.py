"""Calibration: fitting, saving, loading, applying, and refusing the wrong model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from examiner.errors import ConfigError
from examiner.evaluation import fit_model
from examiner.scoring import EmbeddingScorer
from examiner.scoring.calibration import (
    Calibration,
    default_calibration,
    fit_head,
    fit_score_model,
    hand_set_calibration,
    load_calibration,
    save_calibration,
)
from examiner.scoring.features import CHECKER_FEATURES, FEATURES


def test_fit_recovers_a_monotone_relation() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(400, 2))
    y = 1 / (1 + np.exp(-(6 * x[:, 0] - 3)))  # only the first signal matters
    model = fit_score_model(["useful", "noise"], x, y, l2=0.1)
    assert model.weights[0] > 1.0
    assert abs(model.weights[1]) < 0.2
    predicted = model.predict_many(x)
    assert np.corrcoef(predicted, y)[0, 1] > 0.99
    assert model.predict({"useful": 0.9, "noise": 0.5}) > model.predict(
        {"useful": 0.1, "noise": 0.5}
    )


def test_coverage_share_is_fitted() -> None:
    rng = np.random.default_rng(1)
    coverage = rng.uniform(0, 1, 300)
    other = rng.uniform(0, 1, 300)
    model = fit_score_model(["coverage", "other"], np.c_[coverage, other], coverage)
    assert 0.0 <= model.coverage_share <= 1.0
    assert np.abs(model.predict_many(np.c_[coverage, other]) - coverage).mean() < 0.05


def test_round_trip(tmp_path: Path) -> None:
    x = np.random.default_rng(2).uniform(0, 1, size=(50, len(FEATURES)))
    model = fit_score_model(list(FEATURES), x, x[:, 0])
    cal = hand_set_calibration("all-MiniLM-L6-v2").model_copy(update={"score_model": model})
    save_calibration(cal, tmp_path / "cal.json")
    loaded = load_calibration(tmp_path / "cal.json")
    assert loaded == cal
    row = dict(zip(FEATURES, x[3], strict=True))
    assert loaded.score_model is not None
    assert loaded.score_model.predict(row) == pytest.approx(model.predict(row))


def test_refused_for_another_model(embedder) -> None:  # type: ignore[no-untyped-def]
    other = hand_set_calibration("some-other-model")
    with pytest.raises(ConfigError, match="fitted for 'some-other-model'"):
        EmbeddingScorer(embedder, other)


def test_bad_calibration_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such calibration file"):
        load_calibration(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.json:1"):
        load_calibration(tmp_path / "bad.json")
    (tmp_path / "knots.json").write_text(
        '{"model": "m", "coverage_knots": [[0.5, 0], [0.4, 1]], '
        '"misconception_threshold": 0.7, "off_topic_threshold": 0.1}',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="coverage_knots"):
        load_calibration(tmp_path / "knots.json")


def test_shipped_default_is_fitted_for_the_default_model() -> None:
    cal = default_calibration("all-MiniLM-L6-v2")
    assert isinstance(cal, Calibration)
    assert cal.model == "all-MiniLM-L6-v2"
    assert cal.score_model is not None
    assert cal.score_model.features == [*FEATURES, *CHECKER_FEATURES]  # fitted with the checker
    # Another model borrows the curve but not the fitted weights' model name.
    assert default_calibration("other").model == "other"


def _course(signal_in_pairs: bool, seed: int = 3) -> tuple[np.ndarray, ...]:
    """Answers to 40 cards: one named feature, and 12 pair values that matter or not."""
    rng = np.random.default_rng(seed)
    n = 800
    x = rng.normal(size=(n, 1))
    pairs = rng.normal(size=(n, 12))
    z = 1.5 * x[:, 0] + (2.5 * pairs[:, 4] if signal_in_pairs else 0.0)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(float)
    groups = np.array([f"card-{i % 40}" for i in range(n)])
    return x, pairs, y, groups


def _cross_entropy(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def test_similarity_head_learns_what_the_named_features_miss() -> None:
    x, pairs, y, _ = _course(signal_in_pairs=True)
    train, test = slice(0, 600), slice(600, None)
    model = fit_score_model(["signal"], x[train], y[train])
    head = fit_head(pairs[train], model.predict_many(x[train]), y[train], l2=10.0)
    assert int(np.argmax(np.abs(head.weights))) == 4
    with_head = model.model_copy(update={"head": head})
    before = _cross_entropy(model.predict_many(x[test]), y[test])
    after = _cross_entropy(with_head.predict_many(x[test], None, pairs[test]), y[test])
    assert after < before - 0.05


def test_similarity_head_is_kept_only_where_it_helps_on_held_out_cards() -> None:
    x, pairs, y, groups = _course(signal_in_pairs=True)
    assert fit_model(["signal"], x, y, pairs, list(groups)).head is not None
    assert fit_model(["signal"], x, y, pairs, list(groups), head=False).head is None
    x, pairs, y, groups = _course(signal_in_pairs=False, seed=4)
    assert fit_model(["signal"], x, y, pairs, list(groups)).head is None
    # Too few answers to learn hundreds of weights: not even tried.
    assert fit_model(["signal"], x[:100], y[:100], pairs[:100], list(groups[:100])).head is None


def test_similarity_head_round_trip_and_width_check(tmp_path: Path) -> None:
    x, pairs, y, groups = _course(signal_in_pairs=True)
    model = fit_model(["signal"], x, y, pairs, list(groups))
    cal = hand_set_calibration("all-MiniLM-L6-v2").model_copy(update={"score_model": model})
    save_calibration(cal, tmp_path / "cal.json")
    loaded = load_calibration(tmp_path / "cal.json")
    assert loaded.score_model is not None
    assert np.allclose(
        loaded.score_model.predict_many(x, None, pairs), model.predict_many(x, None, pairs)
    )
    # Rows without pair features (NaN) get the named features' score alone.
    blank = np.full_like(pairs, np.nan)
    assert np.allclose(model.predict_many(x, None, blank), model.predict_many(x))
    with pytest.raises(ConfigError, match="reads 12 values"):
        model.predict_many(x, None, pairs[:, :5])
