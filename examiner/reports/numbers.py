"""How numbers are written in every report, so a score reads the same everywhere."""

from __future__ import annotations

__all__ = ["percent", "points", "points_of", "score"]


def score(value: float) -> str:
    """A 0..1 score: two decimals, as `examiner grade` prints it."""
    return f"{value:.2f}"


def points(value: float) -> str:
    """Points: at most two decimals, no trailing zeros (`2`, `0.5`, `0.55`)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def percent(value: float) -> str:
    """A percentage without its sign (gradebooks want a bare number): one decimal."""
    return f"{value:.1f}"


def points_of(got: float, possible: float) -> str:
    """`0.55 / 1 point`, `3 / 5 points`."""
    return f"{points(got)} / {points(possible)} point{'' if points(possible) == '1' else 's'}"
