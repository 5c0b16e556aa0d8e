"""Content hashes: how examiner decides that two things are the same thing.

Every sha256 examiner keeps (rubrics, answers, submissions files, run
settings, judge cache keys) is made here, so that they are all made the same
way. The values are stored in databases and caches: changing how any of them
is computed would make every stored run, reuse and cached verdict unreachable,
so a change here is a migration, not a refactor.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from ..models import Grade, Rubric

__all__ = [
    "AnswerKey",
    "answer_hash",
    "canonical_hash",
    "canonical_json",
    "file_hash",
    "rubric_hash",
    "sha256_hex",
]

# Files are hashed a block at a time: a class's answers file can be large.
_BLOCK = 1 << 20


def sha256_hex(data: str | bytes | Iterable[bytes]) -> str:
    """The hex sha256 of text (as UTF-8), of bytes, or of a stream of byte blocks."""
    digest = hashlib.sha256()
    if isinstance(data, str):
        digest.update(data.encode("utf-8"))
    elif isinstance(data, bytes):
        digest.update(data)
    else:
        for block in data:
            digest.update(block)
    return digest.hexdigest()


def canonical_json(value: object) -> str:
    """A value as JSON that key order and whitespace never change (models dumped first)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_hash(value: object) -> str:
    """sha256 of a value's canonical JSON: key order and whitespace never change it."""
    return sha256_hex(canonical_json(value))


def rubric_hash(rubric: Rubric) -> str:
    """What a grade depends on in a rubric; YAML comments and layout do not count."""
    return canonical_hash(rubric)


def answer_hash(answer: str) -> str:
    """The exact text: any edit by the student is a new answer, to be graded again."""
    return sha256_hex(answer)


def file_hash(path: str | Path) -> str:
    """sha256 of a file's bytes, read in blocks (answer files can be large)."""
    with Path(path).open("rb") as handle:
        return sha256_hex(iter(lambda: handle.read(_BLOCK), b""))


@dataclass(frozen=True)
class AnswerKey:
    """One answer: who, to which card, which attempt, and what it says."""

    student_id: str
    card_id: str
    answer_id: str
    answer_hash: str

    @classmethod
    def of(cls, grade: Grade) -> AnswerKey:
        return cls(
            grade.student_id, grade.card_id, grade.answer_id or "", answer_hash(grade.answer)
        )
