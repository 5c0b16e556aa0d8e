"""Throughput and peak memory of batch grading, against the targets of issue 5.

    .venv/bin/python benchmarks/throughput.py           # 20,000 answers; judge 320; memory 20k/100k
    .venv/bin/python benchmarks/throughput.py --quick   # 2,000 answers; judge 160; memory 2k/10k
    .venv/bin/python benchmarks/throughput.py --quick --profile 512   # + cProfile, to stderr

Why: grading a class should be limited by the embedding model, not by what
surrounds it (reading the file, segmenting, the scoring rules, the store).
So the pipeline's answers per second are set against the raw rate of the same
loaded SentenceTransformer encoding exactly the texts the pipeline encodes
(each answer's sentences, long clauses and whole answer, deduplicated per
batch as the scorer does): a ratio, so the machine's speed cancels out.
Likewise the judge stage should be limited by the model server's latency:
with every reply taking a fixed 200 ms and 16 requests in flight, the ideal
wall time is calls × 0.2 s / 16. And memory should not grow with the size of
the class: the submissions file is streamed and grades are written as they
are made.

How:
- Synthetic answers (seeded, so every run grades the same text): 1-4 sentences
  each, drawn from the CNN rubric's key point texts, alternatives and
  misconceptions and from filler sentences, with noise words, a few typos and
  dropped full stops; cycling over all 15 cards; one student id per answer.
  They are streamed to temporary CSV files, never held in a list.
- The machine is shared, so the embedding figures are measured in many small
  interleaved rounds (one per 512 answers, two pipeline batches): each round
  takes its own slice of the answers and times, in a rotating order, the raw
  encode of the slice's pipeline texts, grading it with `Grader.grade_many`
  over the streamed file, grading it with `run_batch` into a temporary SQLite
  store (as `examiner grade --db` does) and the raw encode of the bare answer
  texts. The ratios are the median of the rounds' ratios, so that a burst of
  load from elsewhere, which hits one round, does not decide them (the ratio of
  the totals is shown next to it). The model is loaded and warmed up first; a
  wrapper around the scorer's `encode_tokens` counts the texts it is given
  (they must be exactly the collected ones) and the time spent in it.
- Judge: `tests/openai_server.py` in this process on 127.0.0.1, every reply 200 ms
  late, replies from its "smart" mode (a valid verdict for any card), `--judge
  always`, concurrency 16, cache off. The stage (and the openai client) is made
  before timing; the first stage's grades are computed before timing too.
- Memory: each size is graded into a temporary store by a fresh subprocess
  (`--memory-child N`), which reports its peak RSS (`ru_maxrss`). By default the
  lexical scorer is used there: grading 100,000 answers with the embedding
  model takes far too long on a small machine, and the model's own memory is a
  constant that does not grow with the number of answers; the reading,
  batching and store path is the same (`--memory-scorer embedding` to use it).

Exits 0 whatever the figures (it is a benchmark); failed targets are listed.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import json
import os
import pstats
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice, pairwise
from pathlib import Path
from typing import Any

from examiner.batch import run_batch
from examiner.errors import Problem
from examiner.formats.submissions import iter_submissions
from examiner.models import Grade, Rubric, RubricCard, Submission
from examiner.rubric import load_rubric
from examiner.scoring.evidence import segments_of
from examiner.scoring.grader import Grader
from examiner.scoring.rules import trivial_grade
from examiner.store import Store

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = ROOT / "rubrics" / "cnn-lesson3.yaml"

# Targets of issue 5.
MIN_ENCODE_RATIO = 0.7
MAX_JUDGE_RATIO = 1.3
MAX_MEMORY_RATIO = 1.5

FILLER = (
    "I remember the teacher explaining this in the lecture.",
    "This is one of the main ideas of the lesson.",
    "I am not completely sure about the details.",
    "We saw an example of this in the lab session.",
    "It is important for convolutional neural networks in general.",
    "That is what I understood from the slides.",
    "It depends on the architecture of the network.",
    "This also came up in the exercises last week.",
    "In practice people use libraries like PyTorch for this.",
    "I think this question is tricky, but here is my answer.",
    "The same idea is used in many deep learning models.",
    "Honestly I had to look this up again before the exam.",
)
NOISE = (
    "basically",
    "um",
    "like",
    "actually",
    "kind of",
    "I think",
    "so",
    "well",
    "probably",
    "just",
)


def say(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


# -- synthetic answers --------------------------------------------------------------------


def _noisy(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    if rng.random() < 0.35:
        words.insert(rng.randrange(len(words) + 1), rng.choice(NOISE))
    if rng.random() < 0.1:  # a typo: two letters swapped in a longer word
        long = [i for i, w in enumerate(words) if len(w) > 4 and w.isalpha()]
        if long:
            i = rng.choice(long)
            j = rng.randrange(len(words[i]) - 1)
            w = words[i]
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    text = " ".join(words)
    if rng.random() < 0.15:
        text = text[:1].lower() + text[1:]
    if rng.random() < 0.1:
        text = text.rstrip(".")
    return text


def synthetic_answer(card: RubricCard, rng: random.Random) -> str:
    """1-4 sentences: mostly key point phrasings, some misconceptions, some filler."""
    points = [t for p in card.key_points for t in p.phrasings]
    wrongs = [t for m in card.misconceptions for t in m.phrasings]
    sentences = []
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.55:
            text = rng.choice(points)
        elif roll < 0.67 and wrongs:
            text = rng.choice(wrongs)
        else:
            text = rng.choice(FILLER)
        sentences.append(_noisy(text, rng))
    return " ".join(sentences)


def synthetic_rows(rubric: Rubric, start: int, stop: int, seed: int) -> Iterator[list[str]]:
    """Rows (student_id, card, answer) for answers start..stop-1; answer i is always the same."""
    cards = rubric.cards
    for i in range(start, stop):
        rng = random.Random(f"{seed}:{i}")
        card = cards[i % len(cards)]
        yield [f"student-{i:07d}", card.id, synthetic_answer(card, rng)]


def write_csv(path: Path, rows: Iterator[list[str]]) -> int:
    """Stream rows to a CSV file; returns how many were written."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "card", "answer"])
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def submissions(path: Path) -> Iterator[Submission]:
    for item in iter_submissions(path):
        assert isinstance(item, Submission), item
        yield item


def pipeline_texts(grader: Grader, path: Path) -> list[str]:
    """The texts the embedding scorer encodes for a file, in the order it encodes them.

    As `Grader._grade_batch` and `EmbeddingScorer.assess_batch` do: batches of
    `grader.batch_size`, the same answer to the same card once per batch,
    answers with nothing to measure skipped, and each batch's segments
    deduplicated. (The rubric's own texts are encoded once, during warm-up.)
    """
    texts: list[str] = []
    stream = submissions(path)
    while batch := list(islice(stream, grader.batch_size)):
        pairs: set[tuple[str, str]] = set()
        index: dict[str, None] = {}
        for sub in batch:
            card = grader.rubric.card(sub.card)
            if (card.id, sub.answer) in pairs:
                continue
            pairs.add((card.id, sub.answer))
            if trivial_grade(card, sub, "embedding") is not None:
                continue
            for segment in segments_of(sub.answer)[0]:
                index.setdefault(segment)
        texts.extend(index)
    return texts


# -- measuring ----------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    value: str
    target: str = ""
    ok: bool | None = None


@dataclass
class EncodeMeter:
    """Wraps the scorer's `encode_tokens` to count texts and time spent in the model call."""

    texts: int = 0
    seconds: float = 0.0

    def install(self, embedder: Any) -> None:
        inner = embedder.encode_tokens

        def encode_tokens(texts: Sequence[str]) -> Any:
            started = time.perf_counter()
            try:
                return inner(texts)
            finally:
                self.seconds += time.perf_counter() - started
                self.texts += len(texts)

        # An instance attribute: the scorer calls it like the method (one call per batch).
        embedder.encode_tokens = encode_tokens

    def reset(self) -> None:
        self.texts, self.seconds = 0, 0.0


@dataclass
class Rounds:
    """Seconds per measure, round by round (measures of one round are close in time)."""

    seconds: list[dict[str, float]] = field(default_factory=list)
    texts: dict[str, int] = field(default_factory=dict)

    def total(self, name: str) -> float:
        return sum(r[name] for r in self.seconds)

    def rate(self, name: str, per: str = "answers") -> float:
        """Answers (or `per`, a count kept in each round) per second: the rounds' median."""
        return statistics.median(r[per] / r[name] for r in self.seconds)

    def ratio(self, slow: str, fast: str) -> tuple[float, float]:
        """time(fast) ÷ time(slow): the median of the rounds' ratios, and of the totals."""
        median = statistics.median(r[fast] / r[slow] for r in self.seconds)
        return median, self.total(fast) / self.total(slow)


def slices(n: int, parts: int) -> list[tuple[int, int]]:
    parts = max(1, min(parts, n))
    bounds = [round(n * k / parts) for k in range(parts + 1)]
    return list(pairwise(bounds))


def _every(n: int, label: str, step: int = 1000) -> Callable[[int], None]:
    done = [0]

    def tick(k: int) -> None:
        before = done[0]
        done[0] += k
        if done[0] // step > before // step or done[0] == n:
            say(f"    {label}: {done[0]:,}/{n:,}")

    return tick


def embedding_benchmark(
    rubric: Rubric, n: int, parts: int, seed: int, tmp: Path, profile: int
) -> tuple[list[Row], Grader]:
    say("loading the embedding model…")
    grader = Grader(rubric, scorer="embedding")
    scorer = grader.scorer
    embedder: Any = scorer.embedder  # type: ignore[attr-defined]
    encode = embedder.encode  # the backend's own call, before the meter wraps encode_tokens
    meter = EncodeMeter()
    meter.install(embedder)

    def raw(texts: list[str]) -> None:
        encode(texts)

    # Warm-up: the rubric's texts are encoded (once per scorer), the model's
    # first calls are paid, the store's schema is created.
    warm = tmp / "warm-up.csv"
    write_csv(warm, synthetic_rows(rubric, 10_000_000, 10_000_000 + 300, seed))
    list(grader.grade_many(submissions(warm)))
    raw(pipeline_texts(grader, warm)[:200])
    store = Store.open(tmp / "throughput.db")
    run_batch(store, grader, RUBRIC, warm, settings={"judge": {"mode": "off"}})

    rounds = Rounds()
    plan = slices(n, parts)
    all_texts = 0
    for k, (start, stop) in enumerate(plan):
        size = stop - start
        path = tmp / f"answers-{k + 1}.csv"
        write_csv(path, synthetic_rows(rubric, start, stop, seed))
        texts = pipeline_texts(grader, path)
        answers = [s.answer for s in submissions(path)]
        all_texts += len(texts)
        times: dict[str, float] = {"answers": size, "texts": len(texts)}

        def do_raw_texts(texts: list[str] = texts) -> None:
            raw(texts)

        def do_raw_answers(answers: list[str] = answers) -> None:
            raw(answers)

        def do_stream(path: Path = path, size: int = size) -> None:
            graded = 0
            for item in grader.grade_many(submissions(path), source=str(path)):
                graded += isinstance(item, Grade)
            assert graded == size, (graded, size)

        def do_store(path: Path = path, size: int = size) -> None:
            summary = run_batch(store, grader, RUBRIC, path, settings={"judge": {"mode": "off"}})
            assert summary.graded == size, (summary.graded, size)

        steps: list[tuple[str, Callable[[], None]]] = [
            ("raw_texts", do_raw_texts),
            ("stream", do_stream),
            ("store", do_store),
            ("raw_answers", do_raw_answers),
        ]
        # A rotating order, so that no measure always runs first (or last) in a round.
        for name, step in steps[k % 4 :] + steps[: k % 4]:
            meter.reset()
            started = time.perf_counter()
            step()
            times[name] = time.perf_counter() - started
            times[f"{name}_model"] = meter.seconds
            rounds.texts[name] = rounds.texts.get(name, 0) + meter.texts
        rounds.seconds.append(times)
        path.unlink()
        say(
            f"round {k + 1}/{len(plan)} ({size} answers, {len(texts):,} texts): "
            f"raw {times['raw_texts']:.1f} s, grade_many {times['stream']:.1f} s, "
            f"run_batch {times['store']:.1f} s, raw answers {times['raw_answers']:.1f} s"
        )
    store.close()

    # The pipeline must have encoded exactly the texts collected above.
    matches = rounds.texts["stream"] == all_texts == rounds.texts["store"]
    rows = [
        Row(
            "texts the pipeline encodes",
            f"{all_texts:,} ({all_texts / n:.2f} per answer)"
            + (" = its encode calls" if matches else f" ≠ encoded {rounds.texts['stream']:,}!"),
        ),
        Row(
            "raw encode, the pipeline's texts",
            f"{rounds.rate('raw_texts'):,.1f} answers/s "
            f"({rounds.rate('raw_texts', per='texts'):,.0f} texts/s)",
        ),
        Row("raw encode, the answer texts only", f"{rounds.rate('raw_answers'):,.1f} answers/s"),
    ]
    for name, short, shown in (
        ("store", "run_batch", "run_batch → SQLite"),
        ("stream", "grade_many", "grade_many, no store"),
    ):
        median, overall = rounds.ratio(name, "raw_texts")
        rows.append(Row(f"embedding-only grading, {shown}", f"{rounds.rate(name):,.1f} answers/s"))
        rows.append(
            Row(
                f"  {short} ÷ raw encode of the same texts",
                f"{median:.2f} (of totals: {overall:.2f})",
                f"≥ {MIN_ENCODE_RATIO}",
                median >= MIN_ENCODE_RATIO,
            )
        )
        median, overall = rounds.ratio(name, "raw_answers")
        rows.append(
            Row(
                f"  {short} ÷ raw encode of the answer texts only",
                f"{median:.2f} (of totals: {overall:.2f})",
                "(info)",
            )
        )
        in_model = rounds.total(f"{name}_model")
        outside = (rounds.total(name) - in_model) / n * 1000
        rows.append(
            Row(
                "  time in encode_tokens / outside it",
                f"{in_model / rounds.total(name):.0%} / {outside:.2f} ms per answer",
                "(info)",
            )
        )
    median, overall = rounds.ratio("raw_texts", "stream_model")
    rows.append(
        Row(
            "encode_tokens ÷ raw encode time, same texts",
            f"{median:.2f} (of totals: {overall:.2f})",
            "(info)",
        )
    )

    if profile:
        rows.extend(profile_pipeline(grader, rubric, profile, seed, tmp))
    return rows, grader


def profile_pipeline(grader: Grader, rubric: Rubric, n: int, seed: int, tmp: Path) -> list[Row]:
    """cProfile one `grade_many` pass; the top functions go to stderr."""
    path = tmp / "profile.csv"
    write_csv(path, synthetic_rows(rubric, 20_000_000, 20_000_000 + n, seed))
    say(f"profiling grade_many over {n:,} answers…")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in grader.grade_many(submissions(path)):
        pass
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    say(out.getvalue())
    return []


# -- judge ------------------------------------------------------------------------------------


def judge_benchmark(
    rubric: Rubric,
    grader: Grader | None,
    n: int,
    concurrency: int,
    delay: float,
    seed: int,
    tmp: Path,
) -> list[Row]:
    # Only the local test server is ever contacted.
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    os.environ["no_proxy"] = "127.0.0.1,localhost"
    sys.path.insert(0, str(ROOT))
    from examiner.config import JudgeSettings
    from examiner.judge import JudgeItem, JudgeStage
    from tests.openai_server import ScriptedOpenAI, Smart

    first_stage = grader or Grader(rubric, scorer="lexical")
    path = tmp / "judge.csv"
    write_csv(path, synthetic_rows(rubric, 30_000_000, 30_000_000 + n, seed))
    say(f"judge: first stage ({first_stage.scorer.name}) for {n} answers…")
    items: list[JudgeItem] = [
        x for x in first_stage.first_stage(submissions(path)) if not isinstance(x, Problem)
    ]
    with ScriptedOpenAI(delay=delay, default=Smart()) as server:
        settings = JudgeSettings(
            model="benchmark-judge",
            base_url=server.base_url,
            api_key="sk-benchmark-dummy",
            mode="always",
            concurrency=concurrency,
            cache=False,
            timeout=30.0,
        )
        with JudgeStage(settings) as stage:  # the openai client is made here, untimed
            say(f"judge: {len(items)} answers, concurrency {concurrency}, {delay * 1000:.0f} ms")
            started = time.perf_counter()
            grades = list(stage.judge_many(items))
            wall = time.perf_counter() - started
            usage = stage.usage
        requests = len(server.chat_requests)
    judged = sum(g.scorer == "judge" for g in grades)
    ideal = usage.calls * delay / concurrency
    ratio = wall / ideal if ideal else float("inf")
    return [
        Row(
            "judge: answers judged / calls / requests received",
            f"{judged}/{len(items)} / {usage.calls} / {requests}"
            + (f" ({usage.failed} failed)" if usage.failed else ""),
        ),
        Row("judge: wall time", f"{wall:.2f} s"),
        Row(f"judge: ideal = calls × {delay:g} s / {concurrency}", f"{ideal:.2f} s"),
        Row(
            "judge: wall ÷ ideal", f"{ratio:.2f}", f"≤ {MAX_JUDGE_RATIO}", ratio <= MAX_JUDGE_RATIO
        ),
    ]


# -- memory -----------------------------------------------------------------------------------


def max_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def memory_child(n: int, scorer: str, seed: int) -> None:
    """Generate n answers into a file, grade it into a store, print peak RSS as JSON."""
    rubric = load_rubric(RUBRIC)
    with tempfile.TemporaryDirectory(prefix="examiner-memory-") as tmp:
        path = Path(tmp) / "answers.csv"
        write_csv(path, synthetic_rows(rubric, 0, n, seed))
        grader = Grader(rubric, scorer=scorer)  # type: ignore[arg-type]
        grader.scorer  # noqa: B018 (loads the model, if any)
        baseline = max_rss_mib()
        started = time.perf_counter()
        with Store.open(Path(tmp) / "memory.db") as store:
            summary = run_batch(
                store,
                grader,
                RUBRIC,
                path,
                settings={"judge": {"mode": "off"}},
                on_progress=_every(n, f"memory {n:,}", step=max(n // 5, 1)),
            )
        seconds = time.perf_counter() - started
        result = {
            "answers": n,
            "graded": summary.graded,
            "scorer": grader.scorer.name,
            "baseline_mib": baseline,
            "peak_mib": max_rss_mib(),
            "seconds": seconds,
        }
    print(json.dumps(result), flush=True)


def memory_benchmark(sizes: tuple[int, int], scorer: str, seed: int) -> list[Row]:
    say(f"memory: grading {sizes[0]:,} and {sizes[1]:,} answers in two fresh processes…")
    children = [
        subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--memory-child",
                str(size),
                "--scorer",
                scorer,
                "--seed",
                str(seed),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for size in sizes
    ]
    results: list[dict[str, Any]] = []
    for child in children:
        out, _ = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"memory child failed with exit code {child.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    small, large = results
    ratio = large["peak_mib"] / small["peak_mib"]
    rows = [
        Row(
            f"peak memory, {r['answers']:,} answers ({r['scorer']})",
            f"{r['peak_mib']:.0f} MiB (start-up {r['baseline_mib']:.0f} MiB, "
            f"{r['answers'] / r['seconds']:,.0f}/s)",
        )
        for r in results
    ]
    rows.append(
        Row(
            f"peak memory {sizes[1]:,} ÷ {sizes[0]:,}",
            f"{ratio:.2f}",
            f"≤ {MAX_MEMORY_RATIO}",
            ratio <= MAX_MEMORY_RATIO,
        )
    )
    if any(r["graded"] != r["answers"] for r in results):
        rows.append(Row("memory: not every answer was graded!", str(results)))
    return rows


# -- report -----------------------------------------------------------------------------------


def render(rows: list[Row]) -> str:
    width = max(len(r.figure) for r in rows)
    value_width = max(len(r.value) for r in rows)
    target_width = max(len(r.target) for r in rows)
    lines = [
        f"{'figure':<{width}}  {'measured':<{value_width}}  {'target':<{target_width}}",
        "-" * (width + value_width + target_width + 8),
    ]
    for r in rows:
        mark = "" if r.ok is None else ("✔" if r.ok else "✘")
        lines.append(
            f"{r.figure:<{width}}  {r.value:<{value_width}}  {r.target:<{target_width}}  {mark}"
        )
    return "\n".join(lines).rstrip()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, help="answers for the throughput (20,000)")
    parser.add_argument("--quick", action="store_true", help="a fast check: 2,000 answers …")
    parser.add_argument(
        "--rounds", type=int, help="interleaved rounds (default: one per 512 answers)"
    )
    parser.add_argument("--judge-answers", type=int, help="answers for the judge (320; 160)")
    parser.add_argument("--judge-concurrency", type=int, default=16)
    parser.add_argument("--judge-delay", type=float, default=0.2, help="seconds per reply")
    parser.add_argument(
        "--memory-sizes",
        type=int,
        nargs=2,
        metavar=("SMALL", "LARGE"),
        help="answers for the two memory runs (20000 100000; 2000 10000 with --quick)",
    )
    parser.add_argument("--memory-scorer", choices=("lexical", "embedding"), default="lexical")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also cProfile grade_many over N answers (stats to stderr)",
    )
    parser.add_argument("--skip-embedding", action="store_true")
    parser.add_argument("--skip-judge", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--skip-runtime", action="store_true", help="skip the ONNX vs sentence-transformers figures"
    )
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--scorer", default="lexical", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if args.memory_child is not None:
        memory_child(args.memory_child, args.scorer, args.seed)
        return

    n = args.answers or (2_000 if args.quick else 20_000)
    rounds = args.rounds or -(-n // 512)
    judge_n = args.judge_answers or (160 if args.quick else 320)
    sizes = tuple(args.memory_sizes or ((2_000, 10_000) if args.quick else (20_000, 100_000)))

    rubric = load_rubric(RUBRIC)
    rows: list[Row] = []
    grader: Grader | None = None
    started = time.perf_counter()
    memory: list[Row] = []
    if not args.skip_memory:
        # First, while this process is small: a child's ru_maxrss counts the
        # memory of the process it was forked from (Linux keeps the high-water
        # mark across exec), so spawning it after the model is loaded would
        # report this process's ~700 MiB instead of the child's own peak.
        memory = memory_benchmark((sizes[0], sizes[1]), args.memory_scorer, args.seed)
    runtime: list[Row] = []
    if not args.skip_runtime:  # also before any model is loaded here, for the same reason
        from runtime import runtime_benchmark  # benchmarks/runtime.py

        runtime = runtime_benchmark(rubric, 2_000, args.seed)
    with tempfile.TemporaryDirectory(prefix="examiner-throughput-") as name:
        tmp = Path(name)
        os.environ["EXAMINER_HOME"] = str(tmp / "home")  # nothing is written outside tmp
        if not args.skip_embedding:
            found, grader = embedding_benchmark(rubric, n, rounds, args.seed, tmp, args.profile)
            rows.extend(found)
        if not args.skip_judge:
            rows.extend(
                judge_benchmark(
                    rubric,
                    grader,
                    judge_n,
                    args.judge_concurrency,
                    args.judge_delay,
                    args.seed,
                    tmp,
                )
            )
        if grader is not None:
            grader.close()
    rows.extend(memory)
    rows.extend(runtime)
    print()
    if not args.skip_embedding and grader is not None:
        embedder: Any = grader.scorer.embedder  # type: ignore[attr-defined]
        print(
            f"examiner throughput: CNN rubric ({len(rubric.cards)} cards), {n:,} synthetic "
            f"answers in {rounds} interleaved rounds (rates and ratios: medians of the "
            f"rounds), all-MiniLM-L6-v2 on CPU through {type(embedder).__name__} "
            f"({os.cpu_count()} cores), batch 256, seed {args.seed}"
        )
    if not args.skip_judge:
        print(
            f"judge: {judge_n} answers, --judge always, concurrency {args.judge_concurrency}, "
            f"test server on 127.0.0.1 replying after {args.judge_delay * 1000:.0f} ms, no cache"
        )
    if not args.skip_memory:
        print(
            f"memory: {args.memory_scorer} scorer, run_batch into a fresh SQLite store, one "
            "process per size"
            + (
                " (the embedding model's memory is a constant that does not grow with N)"
                if args.memory_scorer == "lexical"
                else ""
            )
        )
    print()
    print(render(rows))
    failed = [r.figure.strip() for r in rows if r.ok is False]
    print()
    print(f"targets failed: {'; '.join(failed)}" if failed else "all targets met")
    say(f"(took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
