"""Agreement between two sets of scores: the numbers ASAG papers report."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "accuracy",
    "bin_scores",
    "confusion",
    "mae",
    "pearson",
    "quadratic_weighted_kappa",
    "rmse",
    "spearman",
]


def _arrays(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("score lists must have the same length")
    return x, y


def pearson(a: Sequence[float], b: Sequence[float]) -> float:
    """Pearson's r; 0 when either side is constant (no linear relation to find)."""
    x, y = _arrays(a, b)
    dx, dy = x - x.mean(), y - y.mean()
    denom = float(np.sqrt((dx**2).sum() * (dy**2).sum()))
    return float((dx * dy).sum() / denom) if denom > 0 else 0.0


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    sorted_x = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    x, y = _arrays(a, b)
    return pearson(_ranks(x).tolist(), _ranks(y).tolist())


def rmse(a: Sequence[float], b: Sequence[float]) -> float:
    x, y = _arrays(a, b)
    return float(np.sqrt(((x - y) ** 2).mean()))


def mae(a: Sequence[float], b: Sequence[float]) -> float:
    x, y = _arrays(a, b)
    return float(np.abs(x - y).mean())


def bin_scores(scores: Sequence[float], edges: Sequence[float]) -> list[int]:
    """The index of the nearest of `edges` (the scale's steps) for each score."""
    steps = np.asarray(edges, dtype=float)
    return [int(np.argmin(np.abs(steps - s))) for s in scores]


def quadratic_weighted_kappa(a: Sequence[int], b: Sequence[int], n_classes: int) -> float:
    """Cohen's kappa with quadratic weights, on class indices 0..n_classes-1."""
    if len(a) != len(b):
        raise ValueError("rating lists must have the same length")
    observed = np.zeros((n_classes, n_classes))
    for i, j in zip(a, b, strict=True):
        observed[i, j] += 1
    n = observed.sum()
    if n == 0 or n_classes < 2:
        return 0.0
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n
    idx = np.arange(n_classes)
    weights = (idx[:, None] - idx[None, :]) ** 2 / (n_classes - 1) ** 2
    denom = float((weights * expected).sum())
    return 1.0 - float((weights * observed).sum()) / denom if denom > 0 else 1.0


def accuracy(a: Sequence[str], b: Sequence[str]) -> float:
    if len(a) != len(b):
        raise ValueError("label lists must have the same length")
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a) if a else 0.0


def confusion(
    human: Sequence[str], machine: Sequence[str], labels: Sequence[str]
) -> list[list[int]]:
    """Counts with human labels as rows and machine labels as columns."""
    index = {label: i for i, label in enumerate(labels)}
    table = [[0] * len(labels) for _ in labels]
    for h, m in zip(human, machine, strict=True):
        table[index[h]][index[m]] += 1
    return table
