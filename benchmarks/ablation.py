"""What else was tried on the SemEval targets, and what it gave: a record anyone can re-run.

    python benchmarks/ablation.py ../shared/datasets

Every row is measured like `benchmarks/agreement.py` (5-fold cross-validation
grouped by question, accuracy at half credit) on the same features, so the rows
compare directly:

- logistic: examiner's score model without a similarity head;
- + boosted trees: the same features through gradient-boosted trees (is the
  logistic model too simple?);
- + polarity: three more features from negation and opposite-word cues between
  the whole answer and each reference answer (is it contradiction that
  similarity misses?);
- + head: the similarity head, as `examiner calibrate` chooses it;
- other sets: fitted on the three other data sets and applied here, without
  and with a head (does what is learned carry to another course?).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import load_dataset

from examiner.evaluation import Scored, assess_graded, fit_model, group_folds
from examiner.scoring import EmbeddingScorer
from examiner.scoring.calibration import fit_head, fit_score_model, hand_set_calibration
from examiner.scoring.cues import contradicts
from examiner.scoring.embedder import DEFAULT_MODEL, load_embedder
from examiner.scoring.features import FEATURES
from examiner.scoring.grader import Grader

SETS = ("scientsbank", "beetle", "mohler")


def polarity(rows: list[Scored], references: dict[str, list[str]], embedder: object) -> np.ndarray:
    """Best cosine to a reference the answer does not contradict, to one it does, and
    whether the closest reference is contradicted."""
    texts = sorted(
        {s.answer.submission.answer for s in rows} | {t for r in references.values() for t in r}
    )
    index = {t: i for i, t in enumerate(texts)}
    vectors = embedder.encode(texts)  # type: ignore[attr-defined]
    out = []
    for s in rows:
        answer = s.answer.submission.answer
        refs = references[s.grade.card_id]
        sims = np.array([vectors[index[t]] @ vectors[index[answer]] for t in refs])
        against = np.array([contradicts(answer, t) for t in refs])
        out.append(
            [
                sims[~against].max() if (~against).any() else 0.0,
                sims[against].max() if against.any() else 0.0,
                float(against[int(np.argmax(sims))]),
            ]
        )
    return np.array(out)


def accuracy(p: np.ndarray, y: np.ndarray) -> float:
    return float(((p >= 0.5) == (y >= 0.5)).mean())


def grouped_cv(x: np.ndarray, y: np.ndarray, groups: list[str], fit, predict) -> np.ndarray:  # type: ignore[no-untyped-def]
    folds = group_folds(groups, 5)
    out = np.zeros(len(y))
    for fold in sorted(set(folds.tolist())):
        train, test = folds != fold, folds == fold
        out[test] = predict(fit(np.flatnonzero(train)), np.flatnonzero(test))
    return out


def compare(name: str, data: dict[str, dict]) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    """Held-out predictions of each method for one data set."""
    d = data[name]
    x, y, pairs, groups = d["x"], d["y"], d["pairs"], d["groups"]
    names = list(FEATURES)
    xp = np.hstack([x, d["polar"]])
    trees = dict(max_depth=3, learning_rate=0.05, max_iter=200, min_samples_leaf=40, random_state=0)
    results = {
        "logistic": grouped_cv(
            x,
            y,
            groups,
            lambda tr: fit_score_model(names, x[tr], y[tr]),
            lambda m, te: m.predict_many(x[te]),
        ),
        "+ boosted trees": grouped_cv(
            x,
            y,
            groups,
            lambda tr: HistGradientBoostingRegressor(**trees).fit(x[tr], y[tr]),
            lambda m, te: np.clip(m.predict(x[te]), 0, 1),
        ),
        "+ polarity": grouped_cv(
            xp,
            y,
            groups,
            lambda tr: fit_score_model([*names, "consistent", "against", "closest"], xp[tr], y[tr]),
            lambda m, te: m.predict_many(xp[te]),
        ),
        "+ head (as calibrate chooses)": grouped_cv(
            x,
            y,
            groups,
            lambda tr: fit_model(names, x[tr], y[tr], pairs[tr], [groups[i] for i in tr]),
            lambda m, te: m.predict_many(x[te], None, pairs[te]),
        ),
    }
    # Fitted on the other sets, each weighing the same however many answers it has.
    others = [o for o in SETS if o != name]
    ox = np.vstack([data[o]["x"] for o in others])
    oy = np.concatenate([data[o]["y"] for o in others])
    weight = np.concatenate(
        [np.full(len(data[o]["y"]), len(oy) / len(data[o]["y"]) / len(others)) for o in others]
    )
    model = fit_score_model(names, ox, oy, weight)
    results["other sets"] = model.predict_many(x)
    other_pairs = np.vstack([data[o]["pairs"] for o in others])
    head = fit_head(other_pairs, model.predict_many(ox), oy, 1000.0, weight)
    with_head = model.model_copy(update={"head": head})
    results["other sets + head"] = with_head.predict_many(x, None, pairs)
    return results


def main(root: str) -> None:
    started = time.perf_counter()
    embedder = load_embedder()
    base = hand_set_calibration(DEFAULT_MODEL)
    data = {}
    for name in SETS:
        ds = load_dataset(name, Path(root))
        scored, _ = assess_graded(
            Grader(ds.rubric, scorer=EmbeddingScorer(embedder, base)), ds.answers, name
        )
        rows = [s for s in scored if s.features is not None and s.pair is not None]
        references = {c.id: [t for p in c.key_points for t in p.phrasings] for c in ds.rubric.cards}
        x = np.array([[s.features[f] for f in FEATURES] for s in rows if s.features])
        data[name] = {
            "x": x,
            "y": np.array([s.answer.human for s in rows]),
            "pairs": np.vstack([s.pair for s in rows if s.pair is not None]),
            "groups": [s.grade.card_id for s in rows],
            "polar": polarity(rows, references, embedder),
        }
    print(f"\nWhat else was tried (model {DEFAULT_MODEL}; held-out questions)\n")
    print(f"{'data set':12} {'method':34} {'acc':>6} {'r':>6}")
    print("-" * 62)
    for name in SETS:
        y = data[name]["y"]
        for i, (method, p) in enumerate(compare(name, data).items()):
            label = name if i == 0 else ""
            print(f"{label:12} {method:34} {accuracy(p, y):6.3f} {np.corrcoef(p, y)[0, 1]:6.3f}")
    print(f"\ntime: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
