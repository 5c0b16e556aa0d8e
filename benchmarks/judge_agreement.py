"""The LLM judge against teachers' grades: embedding only, `--judge auto`, `--judge always`.

    scripts/local-judge setup && eval "$(scripts/local-judge start)"
    .venv/bin/python benchmarks/judge_agreement.py ../shared/datasets [--per-kind 5]

On the CNN lesson's hard answers (`cnn-lesson3/hard_answers.jsonl`: 14 kinds
of answer that nothing in examiner was fitted to), the first `--per-kind`
answers of each kind by id. The judge is whatever the environment configures
(OPENAI_BASE_URL, EXAMINER_JUDGE_MODEL: `scripts/local-judge env`), asked
without and with the teacher's graded answers to the same card
(`cnn-lesson3/graded_answers.jsonl`, the calibration set: the 3 closest are
shown in the prompt). `auto` is measured from the same run's verdicts (it
sends a subset of the same prompts: the cache answers them), so it costs no
calls of its own.

Each run is shown at weight 1 (the judge's verified score) and at the judge
weight the shipped calibration fitted for this model on the calibration set
(`fit_judge_weight.py`), when there is one. Prints MAE and Pearson r overall,
MAE per kind, the calls, tokens and seconds per judged answer. Verdicts are
cached in `--cache` (a rerun is free).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from examiner.config import judge_settings  # noqa: E402
from examiner.evaluation import metrics  # noqa: E402
from examiner.formats.labelled import GradedAnswer, iter_graded  # noqa: E402
from examiner.judge import JudgeStage, with_weight  # noqa: E402
from examiner.models import Grade  # noqa: E402
from examiner.rubric import load_rubric  # noqa: E402
from examiner.scoring.examples import ExampleBank  # noqa: E402
from examiner.scoring.grader import Grader  # noqa: E402


def pick(answers: list[GradedAnswer], per_kind: int) -> list[GradedAnswer]:
    """The first `per_kind` answers of each kind, by answer id: the same set every run."""
    by_kind: dict[str, list[GradedAnswer]] = defaultdict(list)
    for a in sorted(answers, key=lambda a: a.submission.student_id):
        by_kind[a.category or "?"].append(a)
    return [a for kind in sorted(by_kind) for a in by_kind[kind][:per_kind]]


def report(name: str, answers: list[GradedAnswer], grades: list[Grade]) -> dict[str, float]:
    human = [a.human for a in answers]
    machine = [g.score for g in grades]
    return {"MAE": metrics.mae(human, machine), "r": metrics.pearson(human, machine)}


def per_kind(answers: list[GradedAnswer], grades: list[Grade]) -> dict[str, float]:
    errors: dict[str, list[float]] = defaultdict(list)
    for a, g in zip(answers, grades, strict=True):
        errors[a.category or "?"].append(abs(a.human - g.score))
    return {k: sum(v) / len(v) for k, v in sorted(errors.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", type=Path, help="the shared datasets folder")
    parser.add_argument("--per-kind", type=int, default=5, help="answers of each kind (5: 70)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/examiner-judge-bench.sqlite3"))
    parser.add_argument("--no-examples", action="store_true", help="skip the run with examples")
    args = parser.parse_args(argv)

    folder = args.datasets / "cnn-lesson3"
    rubric = load_rubric(ROOT / "rubrics" / "cnn-lesson3.yaml")
    hard = [a for a in iter_graded(folder / "hard_answers.jsonl") if isinstance(a, GradedAnswer)]
    answers = pick(hard, args.per_kind)
    graded = iter_graded(folder / "graded_answers.jsonl")
    bank, _ = ExampleBank.from_graded(graded, rubric, "graded_answers.jsonl")

    base = judge_settings(mode="always", cache_path=args.cache)
    if base.problem:
        print(f"no judge configured: {base.problem} (see scripts/local-judge env)")
        return 1
    with Grader(rubric) as grader:
        items = [
            (rubric.card(a.submission.card), a.submission, grader.grade(
                a.submission.card, a.submission.answer, a.submission.student_id))
            for a in answers
        ]  # fmt: skip
        embedder = grader.scorer.embedder  # type: ignore[attr-defined]
        # The weight the shipped calibration fitted for this judge model (1 if none).
        fitted = with_weight(base, grader.scorer.calibration).weight
    firsts = [g for _, _, g in items]
    rows: list[tuple[str, dict[str, float], dict[str, float], str]] = [
        ("embedding only", report("", answers, firsts), per_kind(answers, firsts), "")
    ]
    variants = [("", None)] if args.no_examples else [("", None), (" + examples", bank)]
    weights = [1.0] if fitted == 1.0 else [1.0, fitted]
    runs = [(s, e, m, w) for s, e in variants for m in ("always", "auto") for w in weights]
    for variant, shown, mode, weight in runs:
        settings = replace(base, mode=mode, weight=weight)
        suffix = f"{variant} (judge weight {weight:.2f})" if len(weights) > 1 else variant
        examples = shown.for_judge(embedder) if shown is not None else None
        started = time.monotonic()
        with JudgeStage(settings, notice=print, examples=examples) as stage:
            grades = list(stage.judge_many(items))
            usage = stage.usage
        seconds = time.monotonic() - started
        cost = (
            f"{usage.routed} sent, {usage.judged} judged, {usage.failed} failed, "
            f"{usage.cache_hits} cached; {usage.calls} calls, tokens {usage.tokens_in:,} in / "
            f"{usage.tokens_out:,} out; {seconds / max(usage.calls, 1):.1f} s per call"
        )
        baseless = sum("its verdict is not evidence" in " ".join(g.notes) for g in grades)
        cost += f"; {baseless} verdicts not evidence (quotes not in the answer)"
        rows.append(
            (f"--judge {mode}{suffix}", report("", answers, grades),
             per_kind(answers, grades), cost)
        )  # fmt: skip
        print(f"done: --judge {mode}{suffix} ({seconds:.0f} s)", flush=True)

    print(f"\n{len(answers)} CNN hard answers ({args.per_kind} of each kind), judge {base.model}\n")
    print("| run | MAE | r | cost |\n|---|---|---|---|")
    for name, figures, _, cost in rows:
        print(f"| {name} | {figures['MAE']:.3f} | {figures['r']:.3f} | {cost} |")
    kinds = list(rows[0][2])
    print("\nMAE per kind:\n")
    print("| kind | " + " | ".join(name for name, *_ in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for kind in kinds:
        print(f"| {kind} | " + " | ".join(f"{r[2][kind]:.3f}" for r in rows) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
