"""Short feedback a student can act on, written from the per-key-point results.

The per-key-point table already says what matched; the feedback adds the
tally, the one point most worth learning next, and what was false.
"""

from __future__ import annotations

from ..models import KeyPointResult, MisconceptionResult, RubricCard

__all__ = ["write_feedback"]


def write_feedback(
    card: RubricCard, results: list[KeyPointResult], found: list[MisconceptionResult]
) -> str:
    total = len(results)
    covered = sum(r.status == "covered" for r in results)
    partial = sum(r.status == "partial" for r in results)
    lines: list[str] = []
    if covered == total and not found:
        lines.append(f"Complete: all {total} key points covered.")
    else:
        tally = f"Covered {covered} of {total} key points"
        lines.append(tally + (f", {partial} partly." if partial else "."))
    weights = {p.id: p.weight for p in card.key_points}
    gaps = [r for r in results if r.status != "covered"]
    if gaps:
        # The heaviest gap first; among equals, the least covered.
        nxt = max(gaps, key=lambda r: (weights.get(r.key_point_id, 1.0), -r.coverage))
        lines.append(f"Next, learn this: {_sentence(nxt.text)}")
    for wrong in found:
        fix = f" {_sentence(wrong.correction)}" if wrong.correction else ""
        lines.append(f"Not true: {_sentence(wrong.text)}{fix}")
    return "\n".join(lines)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."
