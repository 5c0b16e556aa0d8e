"""Grading past one process: 1 and 2 processes here, and the Ray engine, on the same answers.

    .venv/bin/python benchmarks/scale.py                  # 4,000 answers
    .venv/bin/python benchmarks/scale.py --answers 20000  # longer, steadier

Every path is a whole fresh process (start, model load, grading into a
store, exit), on the same synthetic answers as `benchmarks/throughput.py`
(seeded: every run grades the same text), so the machine's speed cancels
out in the ratios to the single process:
- 1 process: `examiner grade FILE --db …`, ONNX Runtime on all cores;
- 2 processes: the file cut in halves, two `examiner grade … --threads 1`
  at once (what a teacher could do by hand);
- Ray: `run_batch` with `RayEngine` on a local Ray instance started for the
  run (`--workers` actors, one CPU and one model load each): the figure
  includes starting Ray. Each worker reports its peak memory with its blocks.

Then the cost of a million answers on paper, from these figures and stated
assumptions: embedding core-hours from the measured rate per core; the
judge's tokens per answer from the prompts examiner would send for these
answers (`plan_judge`: prompt tokens estimated, output at most the budget
the card allows) × the per-token prices given (defaults: OpenAI's published
Batch API prices for gpt-4o-mini, half the live price; check them before use).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from throughput import RUBRIC, Row, render, say, synthetic_rows, write_csv

from examiner.rubric import load_rubric

EXAMINER = Path(sys.executable).with_name("examiner")
SEED = 7

# USD per million tokens, OpenAI Batch API (50 % of the live price), gpt-4o-mini.
PRICE_IN = 0.075
PRICE_OUT = 0.30


def timed(commands: list[list[str]], tmp: Path) -> tuple[float, list[float], list[str]]:
    """Run the commands at once: (wall seconds until all end, peak RSS MiB each, stdout each)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    started = time.perf_counter()
    children = []
    for k, command in enumerate(commands):
        out = (tmp / f"out-{k}.txt").open("w+", encoding="utf-8")
        err = (tmp / f"err-{k}.txt").open("w+", encoding="utf-8")
        children.append((command, subprocess.Popen(command, env=env, stdout=out, stderr=err)))
    peaks = []
    for k, (command, child) in enumerate(children):
        _, status, usage = os.wait4(child.pid, 0)  # the child's own rusage
        if os.waitstatus_to_exitcode(status):
            errors = (tmp / f"err-{k}.txt").read_text(encoding="utf-8")
            raise SystemExit(f"{' '.join(command)} failed:\n{errors}")
        peaks.append(usage.ru_maxrss / 1024)
    wall = time.perf_counter() - started
    outputs = [(tmp / f"out-{k}.txt").read_text(encoding="utf-8") for k in range(len(commands))]
    return wall, peaks, outputs


def ray_child(subs: Path, db: Path, workers: int) -> None:
    """`--ray-child`: grade through a local Ray instance; print the workers' peaks as JSON.

    The driver's own peak is this process's, measured by the parent (`timed`)."""
    import ray

    from examiner.batch import run_batch
    from examiner.ray_engine import RayEngine
    from examiner.scoring.grader import Grader
    from examiner.store import Store

    peaks: dict[int, float] = {}

    def on_block(pid: int, answers: int, mib: float) -> None:
        peaks[pid] = max(peaks.get(pid, 0.0), mib)

    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    grader = Grader(load_rubric(RUBRIC))
    with Store.open(db) as store:
        summary = run_batch(
            store,
            grader,
            RUBRIC,
            subs,
            engine=RayEngine(grader, workers=workers, on_block=on_block),
        )
    print(json.dumps({"graded": summary.graded, "workers": peaks}))


def grade_cmd(subs: Path, db: Path, *extra: str) -> list[str]:
    return [str(EXAMINER), "grade", str(RUBRIC), str(subs), "--db", str(db), *extra]


def split(subs: Path, parts: int) -> list[Path]:
    lines = subs.read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    out = []
    for k in range(parts):
        path = subs.with_name(f"{subs.stem}-{k}.csv")
        path.write_text(header + "".join(rows[k::parts]), encoding="utf-8")
        out.append(path)
    return out


def judge_tokens(subs: Path) -> tuple[float, float, float]:
    """(answers routed by `--judge auto` as a share, tokens in, out per judged answer)."""
    from examiner.config import judge_settings
    from examiner.formats.submissions import iter_submissions
    from examiner.scoring.grader import Grader

    rubric = load_rubric(RUBRIC)
    shares = {}
    per_answer = (0.0, 0.0)
    for mode in ("auto", "always"):
        # A plan only: nothing is sent (the address is never called).
        settings = judge_settings(
            mode=mode, model="gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key="unused"
        )
        with Grader(rubric, judge=settings) as grader:
            plan = grader.plan_judge(iter_submissions(subs), source=str(subs))
        assert plan is not None
        shares[mode] = plan.routed / max(1, plan.answers)
        if mode == "always":
            per_answer = (plan.tokens_in / max(1, plan.calls), plan.tokens_out / max(1, plan.calls))
    return shares["auto"], *per_answer


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=4000, help="answers graded (4,000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="Ray actors")
    parser.add_argument("--price-in", type=float, default=PRICE_IN, help="USD / M tokens in")
    parser.add_argument("--price-out", type=float, default=PRICE_OUT, help="USD / M tokens out")
    parser.add_argument("--ray-child", nargs=3, metavar=("SUBS", "DB", "WORKERS"), help="internal")
    args = parser.parse_args(argv)
    if args.ray_child:
        subs, db, workers = args.ray_child
        ray_child(Path(subs), Path(db), int(workers))
        return

    n, cores = args.answers, os.cpu_count() or 1
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="examiner-scale-") as tmp_name:
        tmp = Path(tmp_name)
        subs = tmp / "answers.csv"
        write_csv(subs, synthetic_rows(load_rubric(RUBRIC), 0, n, SEED))
        say(f"1 process: {n:,} answers…")
        one_s, (one_mib,), _ = timed([grade_cmd(subs, tmp / "one.db")], tmp)
        one = n / one_s
        rows.append(Row("1 process (all cores), answers/s", f"{one:.0f}  ({one_s:.1f} s)"))
        rows.append(Row("  peak memory", f"{one_mib:.0f} MiB"))

        say("2 processes, half the answers each…")
        halves = split(subs, 2)
        two_s, two_mib, _ = timed(
            [grade_cmd(h, tmp / f"two-{k}.db", "--threads", "1") for k, h in enumerate(halves)], tmp
        )
        rows.append(Row("2 processes (1 thread each), answers/s", f"{n / two_s:.0f}"))
        rows.append(Row("  ratio to 1 process", f"{one_s / two_s:.2f}"))
        rows.append(Row("  peak memory per process", f"{max(two_mib):.0f} MiB"))

        say(f"Ray, {args.workers} actors (Ray start included)…")
        me = [sys.executable, __file__, "--ray-child", str(subs), str(tmp / "ray.db")]
        ray_s, (driver_mib,), (out,) = timed([[*me, str(args.workers)]], tmp)
        found = json.loads(out.strip().splitlines()[-1])
        assert found["graded"] == n, found
        workers = list(found["workers"].values())
        rows.append(Row(f"Ray ({args.workers} actors), answers/s", f"{n / ray_s:.0f}"))
        rows.append(Row("  ratio to 1 process", f"{one_s / ray_s:.2f}"))
        rows.append(Row("  peak memory per worker", f"{max(workers):.0f} MiB"))
        rows.append(Row("  peak memory of the driver", f"{driver_mib:.0f} MiB"))

        say("judge prompts for the same answers (a plan: nothing sent)…")
        auto_share, tok_in, tok_out = judge_tokens(subs)

    per_core = one / cores
    million = 1_000_000
    core_hours = million / per_core / 3600
    cost = million * (tok_in * args.price_in + tok_out * args.price_out) / 1e6
    rows += [
        Row("a million answers: embedding stage", f"{core_hours:.1f} core-hours"),
        Row("  at the measured rate per core", f"{per_core:.0f} answers/s"),
        Row("judge tokens per judged answer", f"{tok_in:.0f} in, at most {tok_out:.0f} out"),
        Row("share routed by --judge auto (these answers)", f"{auto_share:.0%}"),
        Row(
            "a million judged answers, Batch API",
            f"≤ ${cost:,.0f} (${args.price_in}/M in, ${args.price_out}/M out)",
        ),
        Row("  with --judge auto", f"≤ ${cost * auto_share:,.0f}"),
    ]
    print(render(rows))


if __name__ == "__main__":
    main()
