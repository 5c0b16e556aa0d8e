"""Fit the calibration shipped for the default model, from the shared graded data sets.

    python benchmarks/fit_default_calibration.py ../shared/datasets

Writes examiner/data/calibration-all-MiniLM-L6-v2.json. Each data set gets a
fixed share of the weight however many answers it has (4,969 SciEntsBank
answers would otherwise drown the 90 of the CNN lesson): the CNN lesson 40 %,
being the one set graded on examiner's own scale (0..1 credit from a strict but
fair teacher, with a curated rubric), the three others 20 % each. Features are
measured with the hand-set curve, the one the fitted model is applied with.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import FILES, load_dataset

from examiner.evaluation import assess_graded, fit_calibration
from examiner.scoring import EmbeddingScorer
from examiner.scoring.calibration import fit_score_model, hand_set_calibration, save_calibration
from examiner.scoring.embedder import DEFAULT_MODEL, load_embedder
from examiner.scoring.features import FEATURES
from examiner.scoring.grader import Grader

SHARE = {"mohler": 0.2, "scientsbank": 0.2, "beetle": 0.2, "cnn-lesson3": 0.4}
OUT = (
    Path(__file__).resolve().parents[1] / "examiner" / "data" / f"calibration-{DEFAULT_MODEL}.json"
)


def main(root: str) -> None:
    embedder = load_embedder()
    base = hand_set_calibration(DEFAULT_MODEL)
    rows: list[list[float]] = []
    targets: list[float] = []
    weights: list[float] = []
    summary = {}
    for name in FILES:
        started = time.perf_counter()
        ds = load_dataset(name, Path(root))
        grader = Grader(ds.rubric, scorer=EmbeddingScorer(embedder, base))
        scored, _ = assess_graded(grader, ds.answers, str(ds.path))
        measured = [s for s in scored if s.features is not None]
        rows += [[s.features[f] for f in FEATURES] for s in measured if s.features]
        targets += [s.answer.human for s in measured]
        weights += [SHARE[name] / len(measured)] * len(measured)
        _, cv = fit_calibration(scored, base, head=False)
        summary[name] = cv
        print(
            f"{name}: {len(scored)} answers, {time.perf_counter() - started:.0f} s; "
            f"CV r {cv.pearson:.3f} MAE {cv.mae:.3f}"
        )
    w = np.array(weights) * len(weights)
    model = fit_score_model(list(FEATURES), np.array(rows), np.array(targets), w)
    fitted = base.model_copy(
        update={
            "score_model": model,
            "fitted_on": "Mohler dev, SciEntsBank and Beetle 2-way train (20 % each), "
            "CNN lesson 3 (40 %)",
            "cross_validation": {f"{k}_pearson": v.pearson for k, v in summary.items()}
            | {f"{k}_mae": v.mae for k, v in summary.items()},
        }
    )
    save_calibration(fitted, OUT)
    print(f"wrote {OUT}")
    for name, weight in zip(model.features, model.weights, strict=True):
        print(f"  {name:16} {weight:+.3f}")
    print(f"  {'(bias)':16} {model.bias:+.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
