"""Agreement metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from examiner.evaluation import metrics

HUMAN = [0.0, 0.5, 1.0, 1.0]
MACHINE = [0.0, 1.0, 1.0, 0.5]


def test_errors() -> None:
    assert metrics.mae(HUMAN, MACHINE) == pytest.approx(0.25)
    assert metrics.rmse(HUMAN, MACHINE) == pytest.approx(math.sqrt(0.125))


def test_pearson_by_hand() -> None:
    # Deviations from the mean 0.625: covariance sum 0.4375, variance sums 0.6875 each.
    assert metrics.pearson(HUMAN, MACHINE) == pytest.approx(0.4375 / 0.6875)
    assert metrics.pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert metrics.pearson([1, 1, 1], [1, 2, 3]) == 0.0  # a constant side has no correlation


def test_spearman_averages_tied_ranks() -> None:
    # Ranks [1, 2, 3.5, 3.5] and [1, 3.5, 3.5, 2]: covariance 2.25, variances 4.5.
    assert metrics.spearman(HUMAN, MACHINE) == pytest.approx(0.5)


def test_quadratic_weighted_kappa_by_hand() -> None:
    # Observed disagreement 0.5 against 1.375 expected by chance.
    assert metrics.quadratic_weighted_kappa([0, 1, 2, 2], [0, 2, 2, 1], 3) == pytest.approx(
        1 - 0.5 / 1.375
    )
    assert metrics.quadratic_weighted_kappa([0, 1, 2], [0, 1, 2], 3) == pytest.approx(1.0)


def test_binning_to_the_scale() -> None:
    steps = [0.0, 0.5, 1.0, 1.5, 2.0]
    assert metrics.bin_scores([0.2, 0.3, 1.74, 2.0], steps) == [0, 1, 3, 4]


def test_accuracy_and_confusion() -> None:
    human = ["correct", "partial", "incorrect", "correct"]
    machine = ["correct", "correct", "incorrect", "partial"]
    assert metrics.accuracy(human, machine) == 0.5
    labels = ["correct", "partial", "incorrect"]
    assert metrics.confusion(human, machine, labels) == [[1, 1, 0], [1, 0, 0], [0, 0, 1]]


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError):
        metrics.mae([1.0], [1.0, 0.0])
