"""The shared graded data sets as (rubric, graded answers): used by the benchmarks.

The data sets live outside the repository (`../shared/datasets`); their path is
an argument. Each data set's rubric is drafted from its reference answers with
`build_rubric`, as a teacher's first draft would be; Beetle lists several
reference answers per question, which become the phrasings of one key point.
"""

from __future__ import annotations

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
