"""The default runtime against sentence-transformers, measured in one run (issue 13).

    .venv/bin/python benchmarks/runtime.py              # needs the torch extra for the reference
    .venv/bin/python benchmarks/runtime.py --install-size   # + a fresh venv without extras
    (also printed by benchmarks/throughput.py, after its own figures)

Figures, each beside the sentence-transformers (fp32, torch) path of the same
model, same run, so that the machine's speed cancels out in the ratios:
- one-off `examiner grade RUBRIC --card ID --answer TEXT`, the whole process
  (start, model load, grade, exit): wall time and peak RSS, median of 3 runs
  per backend, from `os.wait4` (each child's own rusage);
- encoder rate: texts/s of the ONNX backend and of sentence-transformers'
  `encode` (batch 32) on the same texts, the pipeline's texts of 2,000
  synthetic answers, in 4 interleaved rounds, median of the rounds' ratios;
- batch grading: a whole `examiner grade FILE --no-db` process on 2,000
  answers (model load included), answers/s, against the rate at which an
  already-loaded SentenceTransformer encodes the bare answer texts; and the
  same process with `--no-checker`, for the answer checker's price;
- with --install-size: the size of a fresh venv with `pip install .` (no
  extras), the default install.

Exits 0 whatever the figures (it is a benchmark); failed targets are listed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from throughput import (
    RUBRIC,
    Row,
    pipeline_texts,
    render,
    say,
    submissions,
    synthetic_rows,
    write_csv,
)

from examiner.models import Rubric
from examiner.rubric import load_rubric
from examiner.scoring.embedder import load_embedder
from examiner.scoring.grader import Grader

ROOT = Path(__file__).resolve().parents[1]
EXAMINER = Path(sys.executable).with_name("examiner")
ST = "sentence-transformers"

MAX_ONE_OFF_S = 1.5
MAX_ONE_OFF_MIB = 250.0
MIN_ENCODE_RATIO = 2.0
MIN_BATCH_RATIO = 1.0
MIN_CHECKER_RATIO = 0.5  # issue 14: with the checker at least half as fast as without
MAX_INSTALL_MIB = 400.0


def run_child(args: list[str], backend: str) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process."""
    env = dict(os.environ, EXAMINER_EMBEDDING_BACKEND=backend, HF_HUB_OFFLINE="1")
    started = time.perf_counter()
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{errors.decode(errors='replace')}")
    return wall, usage.ru_maxrss / 1024


def one_off(rubric: Rubric) -> list[Row]:
    card = rubric.cards[0]
    args = [
        str(EXAMINER),
        "grade",
        str(RUBRIC),
        "--card",
        card.id,
        "--answer",
        "The output keeps the same spatial size as the input because of the padding.",
    ]
    found: dict[str, tuple[float, float]] = {}
    for backend in ("onnx", ST):
        say(f"one-off grade, {backend}…")
        runs = [run_child(args, backend) for _ in range(3)]
        found[backend] = (
            statistics.median(w for w, _ in runs),
            statistics.median(m for _, m in runs),
        )
    (wall, mib), (st_wall, st_mib) = found["onnx"], found[ST]
    return [
        Row(
            "one-off grade: wall (s)",
            f"{wall:.2f} (sentence-transformers {st_wall:.2f}, {st_wall / wall:.1f}x)",
            f"≤ {MAX_ONE_OFF_S}",
            wall <= MAX_ONE_OFF_S,
        ),
        Row(
            "one-off grade: peak RSS (MiB)",
            f"{mib:.0f} (sentence-transformers {st_mib:.0f})",
            f"≤ {MAX_ONE_OFF_MIB:.0f}",
            mib <= MAX_ONE_OFF_MIB,
        ),
    ]


def encoder_rate(onnx: Any, st_model: Any, texts: list[str], rounds: int = 4) -> list[Row]:
    ratios, rates, st_rates = [], [], []
    parts = [texts[k::rounds] for k in range(rounds)]
    onnx.encode(parts[0][:64])  # first calls paid before timing
    st_model.encode(parts[0][:64], batch_size=32, show_progress_bar=False)
    for k, part in enumerate(parts):
        timed: dict[str, float] = {}
        order = ("onnx", ST) if k % 2 == 0 else (ST, "onnx")
        for name in order:
            started = time.perf_counter()
            if name == "onnx":
                onnx.encode(part)
            else:
                st_model.encode(
                    part, batch_size=32, normalize_embeddings=True, show_progress_bar=False
                )
            timed[name] = len(part) / (time.perf_counter() - started)
        rates.append(timed["onnx"])
        st_rates.append(timed[ST])
        ratios.append(timed["onnx"] / timed[ST])
    ratio = statistics.median(ratios)
    return [
        Row(
            "encoder: ONNX ÷ sentence-transformers encode",
            f"{ratio:.2f} ({statistics.median(rates):.0f} vs "
            f"{statistics.median(st_rates):.0f} texts/s, {len(texts):,} texts)",
            f"≥ {MIN_ENCODE_RATIO}",
            ratio >= MIN_ENCODE_RATIO,
        )
    ]


def batch_process(path: Path, tmp: Path, *extra: str) -> tuple[float, float]:
    """(wall s, peak MiB) of a whole `examiner grade FILE --no-db` process."""
    say(f"batch grade, whole process {' '.join(extra)}…")
    return run_child(
        [
            str(EXAMINER),
            "grade",
            str(RUBRIC),
            str(path),
            "--no-db",
            "--out",
            str(tmp / "grades.jsonl"),
            *extra,
        ],
        "onnx",
    )


def checker_cost(n: int, wall: float, bare_wall: float) -> list[Row]:
    """The answer checker's price: grading with it against grading without it, same file."""
    ratio = bare_wall / wall
    return [
        Row(
            "batch: with the answer checker ÷ without (`--no-checker`)",
            f"{ratio:.2f} ({n / wall:.0f} vs {n / bare_wall:.0f} answers/s)",
            f"≥ {MIN_CHECKER_RATIO}",
            ratio >= MIN_CHECKER_RATIO,
        )
    ]


def batch_grade(n: int, wall: float, mib: float, answers: list[str], st_model: Any) -> list[Row]:
    started = time.perf_counter()
    st_model.encode(answers, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    st_rate = len(answers) / (time.perf_counter() - started)
    rate = n / wall
    return [
        Row(
            "batch: `examiner grade` process ÷ ST encode of the bare answers",
            f"{rate / st_rate:.2f} ({rate:.0f} vs {st_rate:.0f} answers/s; {mib:.0f} MiB)",
            f"≥ {MIN_BATCH_RATIO}",
            rate / st_rate >= MIN_BATCH_RATIO,
        )
    ]


def install_size(tmp: Path) -> list[Row]:
    say("a fresh venv with `pip install .` (no extras)…")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(ROOT)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())
    mib = size / 2**20
    torch = (venv / "lib").glob("python*/site-packages/torch")
    return [
        Row(
            "default install (venv, no extras), MiB",
            f"{mib:.0f}{' (has torch!)' if any(torch) else ', no torch'}",
            f"≤ {MAX_INSTALL_MIB:.0f}",
            mib <= MAX_INSTALL_MIB,
        )
    ]


def runtime_benchmark(rubric: Rubric, n: int, seed: int, *, size: bool = False) -> list[Row]:
    from examiner.scoring.st_embedder import SentenceTransformerEmbedder

    # The children first, while this process is small: a child's ru_maxrss
    # starts from its parent's high-water mark (Linux keeps it across exec).
    rows = one_off(rubric)
    with tempfile.TemporaryDirectory(prefix="examiner-runtime-") as name:
        tmp = Path(name)
        path = tmp / "answers.csv"
        write_csv(path, synthetic_rows(rubric, 20_000_000, 20_000_000 + n, seed))
        wall, mib = batch_process(path, tmp)
        bare_wall, _ = batch_process(path, tmp, "--no-checker")
        answers = [s.answer for s in submissions(path)]
        say("loading both backends…")
        grader = Grader(rubric, scorer="embedding")
        texts = pipeline_texts(grader, path)
        onnx = load_embedder(backend="onnx")
        st = load_embedder(backend=ST)
        assert isinstance(st, SentenceTransformerEmbedder)
        st_model = st._model
        rows += encoder_rate(onnx, st_model, texts)
        rows += batch_grade(n, wall, mib, answers, st_model)
        rows += checker_cost(n, wall, bare_wall)
        if size:
            rows += install_size(tmp)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--install-size", action="store_true", help="also measure a fresh venv")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    rows = runtime_benchmark(load_rubric(RUBRIC), args.answers, args.seed, size=args.install_size)
    print(
        f"examiner runtime: ONNX int8 against sentence-transformers fp32, all-MiniLM-L6-v2, "
        f"{os.cpu_count()} cores, {args.answers:,} synthetic answers, seed {args.seed}\n"
    )
    print(render(rows))
    failed = [r.figure for r in rows if r.ok is False]
    print(f"\ntargets failed: {'; '.join(failed)}" if failed else "\nall targets met")
    say(f"(took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
