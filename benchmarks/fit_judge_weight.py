"""Fit the shipped weight of a judge model against the default embedding stage.

    scripts/local-judge setup && eval "$(scripts/local-judge start)"
    .venv/bin/python benchmarks/fit_judge_weight.py ../shared/datasets [--limit N] [--hard-limit M]

The configured judge (OPENAI_BASE_URL, EXAMINER_JUDGE_MODEL) reads, without
examples, the answers a judge is given:
- the CNN lesson's teacher-graded answers (`graded_answers.jsonl`, the
  calibration set), all of them (`--judge always`), weighed against the
  embedding stage's scores on cards its calibration did not see (a
  calibration fitted on these answers with a fifth of the cards held out in
  turn: the shipped one saw them all);
- the hard answers (`hard_answers.jsonl`, 14 kinds) of the cards that
  `judge_agreement.py` does not measure on (all but 1, 10, 11, 12, 13), those
  `--judge auto` sends.
The weight that minimises MAE over them is written into the shipped
calibration (`examiner/data/calibration-….json`, `judge_weights`, under the
model's name), with its MAE on held-out cards. `--limit` takes the first N
graded answers and `--hard-limit` the first M routed hard answers, the cards
in turn (the local 1.5B model needs about 40 s an answer on 2 cores).
Verdicts are cached in `--cache`.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from examiner.config import judge_settings  # noqa: E402
from examiner.evaluation import assess_graded, cross_validate, rescore  # noqa: E402
from examiner.evaluation.judge_weight import fit_judge_weight, judge_graded  # noqa: E402
from examiner.formats.labelled import GradedAnswer, iter_graded  # noqa: E402
from examiner.judge import routes  # noqa: E402
from examiner.rubric import load_rubric  # noqa: E402
from examiner.scoring import EmbeddingScorer  # noqa: E402
from examiner.scoring.calibration import (  # noqa: E402
    default_calibration,
    hand_set_calibration,
    save_calibration,
)
from examiner.scoring.checker import load_checker  # noqa: E402
from examiner.scoring.embedder import DEFAULT_MODEL, load_embedder  # noqa: E402
from examiner.scoring.grader import Grader  # noqa: E402

OUT = ROOT / "examiner" / "data" / f"calibration-{DEFAULT_MODEL}.json"
# Folds of cards for the embedding stage's held-out scores (15 cards: 3 held out at a time).
FOLDS = 5
# The cards whose hard answers `judge_agreement.py` measures on: never fitted here.
MEASURED = frozenset({"1", "10", "11", "12", "13"})


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
    parser.add_argument("--limit", type=int, default=None, help="graded answers (all: 90)")
    parser.add_argument(
        "--hard-limit", type=int, default=None, help="routed hard answers (all: of 140)"
    )
    parser.add_argument("--cache", type=Path, default=Path("/tmp/examiner-judge-bench.sqlite3"))
    parser.add_argument("--dry-run", action="store_true", help="fit and print, write nothing")
    args = parser.parse_args(argv)

    folder = args.datasets / "cnn-lesson3"
    settings = judge_settings(mode="always", cache_path=args.cache)
    if settings.problem:
        print(f"no judge configured: {settings.problem} (see scripts/local-judge env)")
        return 1
    graded = in_turn(_graded(folder / "graded_answers.jsonl"))[: args.limit]
    hard = in_turn(
        [a for a in _graded(folder / "hard_answers.jsonl") if a.submission.card not in MEASURED]
    )
    rubric = load_rubric(ROOT / "rubrics" / "cnn-lesson3.yaml")
    # Measured with the hand-set curve, as the shipped calibration's fit measures them.
    base = hand_set_calibration(DEFAULT_MODEL)
    grader = Grader(rubric, scorer=EmbeddingScorer(load_embedder(), base, load_checker()))
    calibration = default_calibration(DEFAULT_MODEL)
    scored, _ = assess_graded(grader, graded, "graded_answers.jsonl")
    # The embedding stage on cards its calibration did not see: the shipped
    # calibration saw all the graded answers (and none of the hard ones).
    held_out = cross_validate(scored, base, FOLDS)
    first = rescore(scored, calibration)
    hard_first = rescore(assess_graded(grader, hard, "hard_answers.jsonl")[0], calibration)
    auto = replace(settings, mode="auto")
    routed = [s for s in hard_first if routes(s.grade, auto)][: args.hard_limit]
    print(f"{len(graded)} graded answers, {len(routed)} of {len(hard)} hard answers routed")
    judged = judge_graded(
        rubric,
        first + routed,
        held_out + routed,
        settings,
        notice=print,
        progress=lambda done, total: print(f"{done}/{total} judged", flush=True),
    )
    fitted_on = (
        f"cnn-lesson3: {len(graded)} of graded_answers.jsonl (--judge always), {len(routed)} of "
        f"hard_answers.jsonl on cards other than {', '.join(sorted(MEASURED, key=int))} "
        "(--judge auto); no examples shown"
    )
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


def _graded(path: Path) -> list[GradedAnswer]:
    return [a for a in iter_graded(path) if isinstance(a, GradedAnswer)]


if __name__ == "__main__":
    sys.exit(main())
