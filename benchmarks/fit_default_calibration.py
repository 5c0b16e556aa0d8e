"""Fit the calibration shipped for the default model, from the shared graded data sets.

    python benchmarks/fit_default_calibration.py ../shared/datasets [--no-checker]
        [--checker DIR] [--out F]      # another checker's calibration, written elsewhere

Writes examiner/data/calibration-all-MiniLM-L6-v2.json. It is fitted on the
`calibration` split of each shared set (2 questions in 10, which the answer
checker never saw, so its signals there are what it does on new answers) and
on the CNN lesson's `graded_answers.jsonl`; the other splits stay for
`benchmarks/agreement.py`. Each data set gets a fixed share of the weight
however many answers it has: the CNN lesson 40 %, being the one set graded on
examiner's own scale (0..1 credit from a strict but fair teacher, with a
curated rubric), the four others 15 % each. Features are measured with the
hand-set curve, the one the fitted model is applied with.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import FILES, by_split, load_dataset

from examiner.evaluation import assess_graded, fit_calibration
from examiner.scoring import EmbeddingScorer
from examiner.scoring.calibration import (
    fit_score_model,
    hand_set_calibration,
    load_calibration,
    save_calibration,
)
from examiner.scoring.checker import load_checker
from examiner.scoring.embedder import DEFAULT_MODEL, load_embedder
from examiner.scoring.features import measured_features
from examiner.scoring.grader import Grader

SHARE = {"mohler": 0.15, "scientsbank": 0.15, "beetle": 0.15, "saf": 0.15, "cnn-lesson3": 0.4}
OUT = (
    Path(__file__).resolve().parents[1] / "examiner" / "data" / f"calibration-{DEFAULT_MODEL}.json"
)


def main(root: str, use_checker: bool = True, folder: Path | None = None, out: Path = OUT) -> None:
    embedder = load_embedder()
    checker = load_checker(folder=folder) if use_checker else None
    base = hand_set_calibration(DEFAULT_MODEL)
    rows: list[dict[str, float]] = []
    targets: list[float] = []
    weights: list[float] = []
    summary = {}
    for name in FILES:
        started = time.perf_counter()
        ds = load_dataset(name, Path(root))
        grader = Grader(ds.rubric, scorer=EmbeddingScorer(embedder, base, checker))
        scored, _ = assess_graded(grader, by_split(ds)["calibration"], str(ds.path))
        measured = [s for s in scored if s.features is not None]
        rows += [s.features for s in measured if s.features]
        targets += [s.answer.human for s in measured]
        weights += [SHARE[name] / len(measured)] * len(measured)
        _, cv = fit_calibration(scored, base, head=False)
        summary[name] = cv
        print(
            f"{name}: {len(scored)} answers, {time.perf_counter() - started:.0f} s; "
            f"CV r {cv.pearson:.3f} MAE {cv.mae:.3f}"
        )
    w = np.array(weights) * len(weights)
    names = measured_features(rows)
    x = np.array([[r[f] for f in names] for r in rows])
    model = fit_score_model(names, x, np.array(targets), w)
    fitted = base.model_copy(
        update={
            "score_model": model,
            "fitted_on": "the calibration questions (2 in 10) of Mohler dev, SciEntsBank and "
            "Beetle 2-way train and SAF train (15 % each), CNN lesson 3 graded answers (40 %)"
            + (", with the answer checker" if checker is not None else ""),
            "cross_validation": {f"{k}_pearson": v.pearson for k, v in summary.items()}
            | {f"{k}_mae": v.mae for k, v in summary.items()},
        }
    )
    if OUT.is_file():
        # The judges' weights are fitted against this stage by fit_judge_weight.py
        # (an hour of a local model's time): kept; refit them after a big change.
        kept = load_calibration(OUT).judge_weights
        fitted = fitted.model_copy(update={"judge_weights": kept})
    save_calibration(fitted, out)
    print(f"wrote {out}")
    for name, weight in zip(model.features, model.weights, strict=True):
        print(f"  {name:16} {weight:+.3f}")
    print(f"  {'(bias)':16} {model.bias:+.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", help="the shared data sets (../shared/datasets)")
    parser.add_argument("--no-checker", action="store_true", help="fit without the checker")
    parser.add_argument("--checker", type=Path, help="this checker folder, not the packaged one")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT})")
    args = parser.parse_args()
    main(args.datasets, not args.no_checker, args.checker, args.out)
