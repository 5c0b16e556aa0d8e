"""Agreement with teachers on answers nothing was fitted on: per data set, and per kind of answer.

    python benchmarks/agreement.py ../shared/datasets [--no-checker]
    python benchmarks/agreement.py ../shared/datasets --checker DIR --calibration F \
        --against shipped.json      # another checker and calibration against a saved run

Each shared set is split by `datasets.split_of` (fixed by a hash of the names):
the answer checker trains on 6 questions in 10 (less one answer in 5), the
shipped calibration is fitted on 2 in 10 ("calibration"), and these are measured:
- unseen questions (the last 2 in 10, fitted by nothing): out of the box with
  the shipped calibration; calibrated on the set's own calibration questions
  (what `examiner calibrate` fits, similarity head included where its inner
  cross-validation keeps one); next to the plain cosine with a line fitted on
  the calibration questions;
- unseen answers (answers held out from questions the checker saw): out of
  the box; calibrated; and calibrated with the teacher's graded examples (the
  other answers to the same question, nearest neighbours over embeddings).
The CNN lesson: `hard_answers.jsonl` (14 kinds of answer, fitted by nothing)
out of the box and with the 90 graded answers of `graded_answers.jsonl` as
examples, by kind; `new_questions.jsonl` with a rubric drafted from its
reference answers. `graded_answers.jsonl` itself is what the shipped
calibration was fitted on: its figure is a fit, not agreement, and is printed
as such.

`--json F` saves the table; `--against F` prints each figure's change from a
saved table and the largest change of r (how a checker remade by
`scripts/train_checker.py --out DIR`, with a calibration refitted on it by
`fit_default_calibration.py --checker DIR --out F`, reproduces the shipped one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import Dataset, by_split, load_dataset

from examiner.evaluation import Scored, agreement, assess_graded, fit_calibration, metrics, rescore
from examiner.formats.decks import load_deck
from examiner.formats.labelled import GradedAnswer, iter_graded
from examiner.models import Flag
from examiner.rubric import build_rubric, load_rubric
from examiner.scoring import EmbeddingScorer
from examiner.scoring.calibration import (
    Calibration,
    default_calibration,
    hand_set_calibration,
    load_calibration,
)
from examiner.scoring.checker import load_checker
from examiner.scoring.embedder import DEFAULT_MODEL, Embedder, load_embedder
from examiner.scoring.examples import ExampleBank, GradedExample
from examiner.scoring.grader import Grader

SETS = ("mohler", "scientsbank", "beetle", "saf")
ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    ("mohler", "unseen questions", "out of the box"): "r ≥ 0.62",
    ("mohler", "unseen questions", "calibrated"): "r ≥ 0.70, RMSE ≤ 0.80",
    ("scientsbank", "unseen questions", "calibrated"): "acc ≥ 0.78",
    ("scientsbank", "unseen answers", "+ examples"): "acc ≥ 0.80",
    ("beetle", "unseen questions", "calibrated"): "acc ≥ 0.80",
    ("beetle", "unseen answers", "+ examples"): "acc ≥ 0.86",
    ("saf", "unseen questions", "calibrated"): "r ≥ 0.60",
    ("saf", "unseen answers", "+ examples"): "r ≥ 0.70",
    ("cnn hard_answers", "unseen answers", "out of the box"): "MAE ≤ 0.12, r ≥ 0.85",
    ("cnn new_questions", "unseen questions", "out of the box"): "MAE ≤ 0.15",
}


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


def of(scored: Sequence[Scored], scale: float = 1.0) -> dict[str, float]:
    return figures([s.answer.human for s in scored], [s.grade.score for s in scored], scale)


class Bench:
    def __init__(
        self,
        embedder: Embedder,
        use_checker: bool,
        checker: Path | None = None,
        calibration: Path | None = None,
    ) -> None:
        self.embedder = embedder
        self.checker = load_checker(folder=checker) if use_checker else None
        self.base = hand_set_calibration(DEFAULT_MODEL)
        self.shipped = (
            load_calibration(calibration) if calibration else default_calibration(DEFAULT_MODEL)
        )

    def assess(self, rubric: object, answers: list[GradedAnswer], source: str) -> list[Scored]:
        scorer = EmbeddingScorer(self.embedder, self.base, self.checker)
        grader = Grader(rubric, scorer=scorer)  # type: ignore[arg-type]
        return assess_graded(grader, answers, source)[0]

    def with_examples(
        self, scored: list[Scored], examples: list[GradedAnswer], rubric: object
    ) -> list[Scored]:
        """Each grade pulled toward the teacher's graded examples close to it."""
        bank = ExampleBank(
            GradedExample(rubric.card(e.submission.card).id, e.submission.answer, e.human)  # type: ignore[attr-defined]
            for e in examples
        )
        cards = sorted({s.grade.card_id for s in scored})
        bank.prepare(self.embedder, cards)
        vectors = self.embedder.encode(
            [" ".join(s.answer.submission.answer.split()) for s in scored]
        )
        out = []
        for s, vector in zip(scored, vectors, strict=True):
            if Flag.POSSIBLE_INJECTION in s.grade.flags or not s.answer.submission.answer.strip():
                out.append(s)
                continue
            score, _ = bank.pull(s.grade.card_id, vector, s.grade.score)
            out.append(Scored(s.answer, s.grade.with_score(score), s.features, s.pair))
        return out

    def cosine_line(
        self, fit: list[GradedAnswer], test: list[GradedAnswer], ds: Dataset
    ) -> list[float]:
        def cosine(rows: list[GradedAnswer]) -> np.ndarray:
            cards = [ds.rubric.card(a.submission.card) for a in rows]
            refs = [c.reference_answer or c.key_points[0].text for c in cards]
            v = self.embedder.encode([a.submission.answer for a in rows] + refs)
            return np.asarray((v[: len(rows)] * v[len(rows) :]).sum(axis=1))

        slope, intercept = np.polyfit(cosine(fit), [a.human for a in fit], 1)
        return list(np.clip(slope * cosine(test) + intercept, 0, 1))

    def shared_set(self, name: str, root: Path) -> list[tuple[str, str, int, dict[str, float]]]:
        ds = load_dataset(name, root)
        parts = by_split(ds)
        scale = max(a.scale for a in ds.answers) if name == "mohler" else 1.0
        measured = {
            split: self.assess(ds.rubric, parts[split], str(ds.path))
            for split in ("calibration", "test_questions", "test_answers")
        }
        fitted: Calibration = fit_calibration(measured["calibration"], self.base)[0]
        rows = []
        for split, label in (
            ("test_questions", "unseen questions"),
            ("test_answers", "unseen answers"),
        ):
            scored = measured[split]
            n = len(scored)
            human = [s.answer.human for s in scored]
            rows.append((label, "out of the box", n, of(rescore(scored, self.shipped), scale)))
            calibrated = rescore(scored, fitted)
            rows.append((label, "calibrated", n, of(calibrated, scale)))
            if split == "test_answers":
                pulled = self.with_examples(calibrated, parts["train"], ds.rubric)
                rows.append((label, "+ examples", n, of(pulled, scale)))
            line = self.cosine_line(parts["calibration"], parts[split], ds)
            rows.append((label, "cosine + line", n, figures(human, line, scale)))
        return rows

    def cnn(
        self, root: Path
    ) -> tuple[list[tuple[str, str, str, int, dict[str, float]]], dict[str, list[Scored]]]:
        folder = root / "cnn-lesson3"
        rubric = load_rubric(ROOT / "rubrics" / "cnn-lesson3.yaml")
        graded = [
            a for a in iter_graded(folder / "graded_answers.jsonl") if isinstance(a, GradedAnswer)
        ]
        hard = [
            a for a in iter_graded(folder / "hard_answers.jsonl") if isinstance(a, GradedAnswer)
        ]
        rows = []
        kinds: dict[str, list[Scored]] = {}
        fit_rows = rescore(self.assess(rubric, graded, "graded_answers.jsonl"), self.shipped)
        rows.append(
            (
                "cnn graded_answers",
                "the calibration's own data",
                "fitted (not agreement)",
                len(fit_rows),
                of(fit_rows),
            )
        )
        scored = rescore(self.assess(rubric, hard, "hard_answers.jsonl"), self.shipped)
        kinds["hard_answers, out of the box"] = scored
        rows.append(
            ("cnn hard_answers", "unseen answers", "out of the box", len(scored), of(scored))
        )
        pulled = self.with_examples(scored, graded, rubric)
        kinds["hard_answers, + graded_answers as examples"] = pulled
        rows.append(("cnn hard_answers", "unseen answers", "+ examples", len(pulled), of(pulled)))
        path = folder / "new_questions.jsonl"
        drafted = build_rubric(load_deck(path))
        # The file names its questions n1…n8, in the order the deck reads them.
        names = list(dict.fromkeys(json.loads(line)["card"] for line in path.open()))
        drafted = drafted.model_copy(
            update={
                "cards": [
                    c.model_copy(update={"id": str(n)})
                    for c, n in zip(drafted.cards, names, strict=True)
                ]
            }
        )
        new = [a for a in iter_graded(path) if isinstance(a, GradedAnswer)]
        scored_new = rescore(self.assess(drafted, new, path.name), self.shipped)
        kinds["new_questions (drafted rubric), out of the box"] = scored_new
        rows.append(
            (
                "cnn new_questions",
                "unseen questions",
                "out of the box",
                len(scored_new),
                of(scored_new),
            )
        )
        return rows, kinds


def print_kinds(title: str, scored: list[Scored]) -> None:
    report = agreement(scored)
    print(f"\n{title}: {report.n} answers, r {report.pearson:.3f}, MAE {report.mae:.3f}")
    print(
        f"{'kind of answer':26} {'n':>3} {'teacher':>8} {'examiner':>9} {'MAE':>6} "
        f"{'> +0.15':>8} {'< -0.15':>8}"
    )
    for row in report.per_category:
        print(
            f"{row.category:26} {row.n:3d} {row.human_mean:8.2f} {row.machine_mean:9.2f} "
            f"{row.mae:6.3f} {row.over:8d} {row.under:8d}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", type=Path)
    parser.add_argument(
        "--no-checker", action="store_true", help="grade without the answer checker"
    )
    parser.add_argument("--checker", type=Path, help="this checker folder, not the packaged one")
    parser.add_argument("--calibration", type=Path, help="this calibration, not the shipped one")
    parser.add_argument("--json", type=Path, help="save the table to this file")
    parser.add_argument("--against", type=Path, help="a table saved by --json, to compare with")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    bench = Bench(load_embedder(), not args.no_checker, args.checker, args.calibration)
    table = []
    for name in SETS:
        t = time.perf_counter()
        for split, method, n, f in bench.shared_set(name, args.datasets):
            table.append((name, split, method, n, f))
        print(f"{name}: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    rows, kinds = bench.cnn(args.datasets)
    table += rows

    checker = "with the answer checker" if bench.checker is not None else "without the checker"
    print(
        f"\nAgreement with teachers on answers nothing was fitted on ({DEFAULT_MODEL}, {checker})\n"
    )
    header = (
        f"{'data set':19} {'answers':18} {'method':23} {'n':>5} {'r':>6} {'RMSE':>6} "
        f"{'MAE':>6} {'acc':>6}  target"
    )
    print(header)
    print("-" * len(header))
    last = None
    for name, split, method, n, f in table:
        target = TARGETS.get((name, split, method), "")
        shown = name if name != last else ""
        last = name
        print(
            f"{shown:19} {split:18} {method:23} {n:5d} {f['r']:6.3f} {f['RMSE']:6.3f} "
            f"{f['MAE']:6.3f} {f['accuracy']:6.3f}  {target}"
        )
    print("\nRMSE on Mohler's 0–5 scale, on 0..1 for the others (SAF: score / its question's top);")
    print("accuracy thresholds both sides at half credit (the two-way label for SemEval).")
    for title, scored in kinds.items():
        print_kinds(title, scored)
    saved = [
        {"set": name, "answers": split, "method": method, "n": n, **f}
        for name, split, method, n, f in table
    ]
    if args.json:
        args.json.write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
    if args.against:
        compare(json.loads(args.against.read_text(encoding="utf-8")), saved)
    print(f"\ntime: {time.perf_counter() - started:.0f} s")
    return 0


def compare(before: list[dict[str, object]], now: list[dict[str, object]]) -> None:
    """Each figure's change from a saved table, and the largest change of r."""
    key = ("set", "answers", "method")
    old = {tuple(row[k] for k in key): row for row in before}
    changes: list[float] = []
    print("\nagainst the saved table: r and MAE, before → now")
    for row in now:
        was = old.get(tuple(row[k] for k in key))
        if was is None or row["method"] == "cosine + line":  # no checker nor calibration there
            continue
        dr = float(row["r"]) - float(was["r"])  # type: ignore[arg-type]
        changes.append(abs(dr))
        print(
            f"  {row['set']:19} {row['answers']:18} {row['method']:23} "
            f"r {was['r']:.3f} → {row['r']:.3f} ({dr:+.3f})  "
            f"MAE {was['MAE']:.3f} → {row['MAE']:.3f}"
        )
    if changes:
        print(f"largest change of r: {max(changes):.3f} over {len(changes)} figures")


if __name__ == "__main__":
    raise SystemExit(main())
