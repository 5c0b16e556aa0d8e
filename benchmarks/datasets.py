"""The shared graded data sets as (rubric, graded answers): used by the benchmarks.

The data sets live outside the repository (`../shared/datasets`); their path is
an argument. Each data set's rubric is drafted from its reference answers with
`build_rubric`, as a teacher's first draft would be; Beetle lists several
reference answers per question, which become the phrasings of one key point.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from examiner.errors import Problem
from examiner.formats.decks import load_deck
from examiner.formats.labelled import GradedAnswer, iter_graded
from examiner.models import KeyPoint, Rubric
from examiner.rubric import build_rubric, load_rubric

ROOT = Path(__file__).resolve().parents[1]

FILES = {
    "mohler": "mohler/mohler_dev.jsonl",
    "scientsbank": "semeval2013/scientsbank_2way_train.jsonl",
    "beetle": "semeval2013/beetle_2way_train.jsonl",
    "saf": "saf/saf_train.jsonl",
    "cnn-lesson3": "cnn-lesson3/graded_answers.jsonl",
}


@dataclass
class Dataset:
    name: str
    path: Path
    rubric: Rubric
    answers: list[GradedAnswer]
    problems: list[Problem]


def _with_reference_alternatives(rubric: Rubric, path: Path) -> Rubric:
    references: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            refs = row.get("meta", {}).get("reference_answers") or []
            texts = [r["text"].strip() for r in refs if r.get("category") != "KEYWORD"]
            references.setdefault(str(row["question_id"]), [t for t in texts if t])
    cards = []
    for card in rubric.cards:
        texts = references.get(card.id) or []
        if len(texts) > 1:
            point = KeyPoint(id="reference", text=texts[0], alternatives=texts[1:])
            card = card.model_copy(update={"key_points": [point]})
        cards.append(card)
    return rubric.model_copy(update={"cards": cards})


def load_dataset(name: str, root: Path) -> Dataset:
    path = root / FILES[name]
    if name == "cnn-lesson3":
        rubric = load_rubric(ROOT / "rubrics" / "cnn-lesson3.yaml")
    else:
        rubric = _with_reference_alternatives(build_rubric(load_deck(path)), path)
    answers: list[GradedAnswer] = []
    problems: list[Problem] = []
    for item in iter_graded(path):
        (problems if isinstance(item, Problem) else answers).append(item)  # type: ignore[arg-type]
    return Dataset(name, path, rubric, answers, problems)


# Which answers may fit what. Fixed by a hash of the names, so every script
# (the checker's training, the default calibration, the agreement benchmark)
# draws the same lines, and adding answers never moves an old one.
SPLITS = ("train", "calibration", "test_questions", "test_answers")


def _bucket(*names: str) -> int:
    return int(hashlib.sha256("\x1f".join(names).encode()).hexdigest()[:8], 16) % 10


def split_of(dataset: str, question_id: str, answer_id: str) -> str:
    """Where an answer of a shared data set belongs.

    - `test_questions` (2 questions in 10): fitted by nothing; "unseen questions".
    - `calibration` (2 in 10): the default calibration is fitted on these; the
      checker never sees them, so its outputs here are what it does on new data.
    - the other 6 in 10 train the checker, except one answer in 5, kept as
      `test_answers`: new answers to questions the checker has seen ("unseen answers").
    """
    bucket = _bucket(dataset, str(question_id))
    if bucket < 2:
        return "test_questions"
    if bucket < 4:
        return "calibration"
    return "test_answers" if _bucket(dataset, str(question_id), str(answer_id)) < 2 else "train"


def by_split(ds: Dataset) -> dict[str, list[GradedAnswer]]:
    """A data set's answers in the splits of `split_of` (the CNN files are all `calibration`:
    the shipped calibration is fitted on them, the checker never sees them)."""
    out: dict[str, list[GradedAnswer]] = {name: [] for name in SPLITS}
    for a in ds.answers:
        sub = a.submission
        name = (
            "calibration"
            if ds.name == "cnn-lesson3"
            else split_of(ds.name, str(sub.card), str(sub.answer_id))
        )
        out[name].append(a)
    return out
