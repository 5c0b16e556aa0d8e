"""Agreement of a results file with teachers' grades: Pearson r and MAE on the 0..1 score.

    python benchmarks/cnn_agreement.py results.jsonl \
        ../shared/datasets/cnn-lesson3/graded_answers.jsonl

Rows are matched by (student_id, card number or id). `examiner evaluate` will supersede this.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from examiner import load_rubric


def main(results: str, graded: str, rubric: str = "rubrics/cnn-lesson3.yaml") -> None:
    cards = load_rubric(rubric).cards
    number = {c.id: str(i + 1) for i, c in enumerate(cards)}
    ours = {}
    for line in Path(results).read_text(encoding="utf-8").splitlines():
        g = json.loads(line)
        ours[(g["student_id"], number.get(g["card_id"], g["card_id"]))] = g["score"]
    pairs = []
    for line in Path(graded).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        key = (row["student_id"], str(row["card"]))
        if key in ours:
            pairs.append((row["score"], ours[key]))
    human, machine = zip(*pairs, strict=True)
    r = statistics.correlation(human, machine)
    mae = statistics.fmean(abs(h - m) for h, m in pairs)
    print(f"answers {len(pairs)}  Pearson r {r:.3f}  MAE {mae:.3f}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
