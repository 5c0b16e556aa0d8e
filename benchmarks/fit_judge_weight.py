"""Fit the shipped weight of a judge model against the default embedding stage.

    scripts/local-judge setup && eval "$(scripts/local-judge start)"
    .venv/bin/python benchmarks/fit_judge_weight.py ../shared/datasets [--limit N]

The configured judge (OPENAI_BASE_URL, EXAMINER_JUDGE_MODEL) reads the CNN
lesson's teacher-graded answers (`cnn-lesson3/graded_answers.jsonl`, the
calibration set: none of the hard answers `judge_agreement.py` measures on)
with `--judge always` and no examples; the weight that minimises MAE there is
written into the shipped calibration (`examiner/data/calibration-….json`,
`judge_weights`, under the model's name), with its MAE on held-out cards.
`--limit` takes the first N answers, the cards in turn (the local 1.5B model
needs about 40 s an answer on 2 cores). Verdicts are cached in `--cache`.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from examiner.config import judge_settings  # noqa: E402
from examiner.evaluation.judge_weight import fit_judge_weight, judge_graded  # noqa: E402
from examiner.formats.labelled import GradedAnswer, iter_graded  # noqa: E402
from examiner.rubric import load_rubric  # noqa: E402
from examiner.scoring.calibration import default_calibration, save_calibration  # noqa: E402
from examiner.scoring.embedder import DEFAULT_MODEL  # noqa: E402
from examiner.scoring.grader import Grader  # noqa: E402

OUT = ROOT / "examiner" / "data" / f"calibration-{DEFAULT_MODEL}.json"


def in_turn(answers: list[GradedAnswer]) -> list[GradedAnswer]:
    """Each card's first answer, then each card's second, …: a prefix covers every card."""
    seen: Counter[str] = Counter()
    keyed = []
    for a in answers:
        seen[a.submission.card] += 1
        keyed.append((seen[a.submission.card], a.submission.card, a))
    return [a for *_, a in sorted(keyed, key=lambda t: (t[0], t[1]))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", type=Path, help="the shared datasets folder")
    parser.add_argument("--limit", type=int, default=None, help="answers to judge (all: 90)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/examiner-judge-bench.sqlite3"))
    parser.add_argument("--dry-run", action="store_true", help="fit and print, write nothing")
    args = parser.parse_args(argv)

    folder = args.datasets / "cnn-lesson3"
    graded = [
        a for a in iter_graded(folder / "graded_answers.jsonl") if isinstance(a, GradedAnswer)
    ]
    answers = in_turn(graded)[: args.limit]
    settings = judge_settings(mode="always", cache_path=args.cache)
    if settings.problem:
        print(f"no judge configured: {settings.problem} (see scripts/local-judge env)")
        return 1
    rubric = load_rubric(ROOT / "rubrics" / "cnn-lesson3.yaml")
    calibration = default_calibration(DEFAULT_MODEL)
    with Grader(rubric, calibration=calibration) as grader:
        judged = judge_graded(
            grader, answers, settings, notice=print,
            progress=lambda done, total: print(f"{done}/{total} judged", flush=True),
        )  # fmt: skip
    fitted_on = f"cnn-lesson3/graded_answers.jsonl ({len(answers)} answers, no examples shown)"
    weight = fit_judge_weight(judged, fitted_on=fitted_on)
    cv = weight.cross_validation
    print(
        f"\n{settings.model}: {weight.answers} of {len(judged)} answers judged (quotes in the "
        f"answer); MAE on held-out cards: embedding {cv['mae_embedding']:.3f}, judge "
        f"{cv['mae_judge']:.3f}, weighted {cv['mae_blend']:.3f}; weight {weight.weight:.2f}"
    )
    if not args.dry_run:
        assert settings.model is not None
        weights = {**calibration.judge_weights, settings.model: weight}
        save_calibration(calibration.model_copy(update={"judge_weights": weights}), OUT)
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
