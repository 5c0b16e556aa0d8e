"""Agreement with teachers on the shared graded data sets, next to two baselines.

    python benchmarks/agreement.py ../shared/datasets

For each data set: examiner's scorer with a calibration fitted by 5-fold
cross-validation grouped by question (each answer scored by a fit that never
saw its question), next to two baselines computed the same way: the plain
cosine between answer and reference with a linear fit, and content-word
overlap (share of the reference's content words in the answer) with a linear
fit. "examiner (CV)" is what `examiner calibrate` fits, similarity head
included where its own inner cross-validation keeps one; "no head" leaves it
out. The CNN lesson is also graded with the shipped default calibration and
the curated rubric, as `examiner grade` does.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import FILES, Dataset, load_dataset

from examiner.evaluation import assess_graded, cross_validate, group_folds, metrics
from examiner.scoring import EmbeddingScorer
from examiner.scoring.calibration import default_calibration, hand_set_calibration
from examiner.scoring.embedder import DEFAULT_MODEL, load_embedder
from examiner.scoring.grader import Grader
from examiner.text import content_words

TARGETS = {
    "mohler": "r ≥ 0.62, RMSE(0–5) ≤ 0.85",
    "scientsbank": "accuracy ≥ 0.75",
    "beetle": "accuracy ≥ 0.80",
    "cnn-lesson3": "MAE ≤ 0.12, r ≥ 0.85",
}


def linear_cv(signal: Sequence[float], human: Sequence[float], groups: Sequence[str]) -> np.ndarray:
    """A least-squares line from signal to credit, fitted on the other folds' questions."""
    x, y = np.asarray(signal, float), np.asarray(human, float)
    folds = group_folds(list(groups), 5)
    predicted = np.zeros(len(y))
    for fold in set(folds.tolist()):
        train, test = folds != fold, folds == fold
        slope, intercept = np.polyfit(x[train], y[train], 1)
        predicted[test] = np.clip(slope * x[test] + intercept, 0, 1)
    return predicted


def figures(human: Sequence[float], machine: Sequence[float], scale: float) -> dict[str, float]:
    return {
        "r": metrics.pearson(human, machine),
        "RMSE": metrics.rmse(human, machine) * scale,
        "MAE": metrics.mae(human, machine),
        "accuracy": metrics.accuracy(
            [h >= 0.5 for h in human],  # type: ignore[misc]
            [m >= 0.5 for m in machine],  # type: ignore[misc]
        ),
    }


def baselines(ds: Dataset, embedder: object) -> dict[str, dict[str, float]]:
    answers = [a.submission.answer for a in ds.answers]
    cards = [ds.rubric.card(a.submission.card) for a in ds.answers]
    references = [c.reference_answer or c.key_points[0].text for c in cards]
    vectors = embedder.encode(answers + references)  # type: ignore[attr-defined]
    n = len(answers)
    cosine = (vectors[:n] * vectors[n:]).sum(axis=1)
    overlap = []
    for answer, reference in zip(answers, references, strict=True):
        ref = set(content_words(reference))
        overlap.append(len(ref & set(content_words(answer))) / len(ref) if ref else 0.0)
    human = [a.human for a in ds.answers]
    groups = [c.id for c in cards]
    scale = max(a.scale for a in ds.answers)
    return {
        "cosine + linear": figures(human, linear_cv(cosine, human, groups), scale),
        "overlap + linear": figures(human, linear_cv(overlap, human, groups), scale),
    }


def per_kind(root: Path, embedder: object) -> None:
    """The CNN dev file of 14 kinds of answer, out of the box (shipped calibration), by kind."""
    from examiner.evaluation import agreement, grade_graded
    from examiner.formats.labelled import iter_graded
    from examiner.rubric import load_rubric

    path = root / "cnn-lesson3" / "hard_answers.jsonl"
    if not path.exists():
        return
    rubric = load_rubric(Path(__file__).resolve().parents[1] / "rubrics" / "cnn-lesson3.yaml")
    calibration = default_calibration(DEFAULT_MODEL)
    grader = Grader(rubric, scorer=EmbeddingScorer(embedder, calibration))  # type: ignore[arg-type]
    scored, _ = grade_graded(grader, iter_graded(path), str(path))
    report = agreement(scored)
    print(
        f"\n{path.name}: {report.n} answers no calibration saw, out of the box: "
        f"r {report.pearson:.3f}, MAE {report.mae:.3f}\n"
    )
    print(
        f"{'kind of answer':34} {'n':>3} {'teacher':>8} {'examiner':>9} {'MAE':>6} "
        f"{'> +0.15':>8} {'< -0.15':>8}"
    )
    for row in report.per_category:
        print(
            f"{row.category:34} {row.n:3d} {row.human_mean:8.2f} {row.machine_mean:9.2f} "
            f"{row.mae:6.3f} {row.over:8d} {row.under:8d}"
        )


def main(root: str) -> None:
    embedder = load_embedder()
    base = hand_set_calibration(DEFAULT_MODEL)
    rows = []
    for name in FILES:
        started = time.perf_counter()
        ds = load_dataset(name, Path(root))
        grader = Grader(ds.rubric, scorer=EmbeddingScorer(embedder, base))
        scored, _ = assess_graded(grader, ds.answers, str(ds.path))
        scale = max(a.scale for a in ds.answers)
        human = [s.answer.human for s in scored]
        result = baselines(ds, embedder)
        for method, head in (("examiner, no head", False), ("examiner (CV)", True)):
            held_out = cross_validate(scored, base, 5, head=head)
            result[method] = figures(human, [s.grade.score for s in held_out], scale)
        if name == "cnn-lesson3":
            shipped = Grader(
                ds.rubric, scorer=EmbeddingScorer(embedder, default_calibration(DEFAULT_MODEL))
            )
            graded, _ = assess_graded(shipped, ds.answers, str(ds.path))
            result["examiner (shipped)"] = figures(human, [s.grade.score for s in graded], scale)
        rows.append((name, len(scored), result, time.perf_counter() - started))

    print(f"\nAgreement with teachers (model {DEFAULT_MODEL}; folds grouped by question)\n")
    header = (
        f"{'data set':12} {'answers':>7}  {'method':20} "
        f"{'r':>6} {'RMSE':>6} {'MAE':>6} {'acc':>6}  target"
    )
    print(header)
    print("-" * len(header))
    for name, n, result, _ in rows:
        for i, (method, f) in enumerate(result.items()):
            label = name if i == 0 else ""
            count = str(n) if i == 0 else ""
            target = TARGETS[name] if method.startswith("examiner (") else ""
            print(
                f"{label:12} {count:>7}  {method:20} {f['r']:6.3f} {f['RMSE']:6.3f} "
                f"{f['MAE']:6.3f} {f['accuracy']:6.3f}  {target}"
            )
    print("\nRMSE is on each data set's own scale (Mohler 0–5, the others 0..1); accuracy")
    print("thresholds both sides at half credit (the two-way label for SemEval).")
    started = time.perf_counter()
    per_kind(Path(root), embedder)
    print(f"time: {sum(r[3] for r in rows) + time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
