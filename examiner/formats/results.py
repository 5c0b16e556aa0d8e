"""Writing grades out: JSONL (the whole Grade) or CSV (one flat row per answer)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TextIO

from ..errors import ConfigError
from ..models import Grade

__all__ = ["CSV_COLUMNS", "ResultWriter", "flat_row", "open_results", "safe_cell"]

CSV_COLUMNS = [
    "student_id",
    "answer_id",
    "card",
    "score",
    "points",
    "max_points",
    "label",
    "key_points",
    "misconceptions",
    "flags",
    "scorer",
    "confidence",
    "feedback",
]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Neutralise text a spreadsheet would run as a formula; numbers pass through."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def flat_row(grade: Grade) -> dict[str, object]:
    return {
        "student_id": grade.student_id,
        "answer_id": grade.answer_id or "",
        "card": grade.card_id,
        "score": grade.score,
        "points": grade.points,
        "max_points": grade.max_points,
        "label": grade.label,
        "key_points": "; ".join(f"{r.key_point_id}:{r.status}" for r in grade.key_points),
        "misconceptions": "; ".join(m.misconception_id for m in grade.misconceptions),
        "flags": "; ".join(str(f) for f in grade.flags),
        "scorer": grade.scorer,
        "confidence": grade.confidence,
        "feedback": grade.feedback,
    }


class ResultWriter(Protocol):
    def write(self, grade: Grade) -> None: ...


class _JsonlWriter:
    def __init__(self, handle: TextIO) -> None:
        self._handle = handle

    def write(self, grade: Grade) -> None:
        self._handle.write(grade.model_dump_json() + "\n")


class _CsvWriter:
    def __init__(self, handle: TextIO) -> None:
        self._writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        self._writer.writeheader()

    def write(self, grade: Grade) -> None:
        self._writer.writerow({k: safe_cell(v) for k, v in flat_row(grade).items()})


@contextmanager
def open_results(path: str | Path) -> Iterator[ResultWriter]:
    """A writer for `.jsonl`/`.json` or `.csv`, streaming one grade at a time."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".jsonl", ".ndjson", ".csv"}:
        raise ConfigError(f"{path}: results are written as .jsonl or .csv, not {suffix or 'no'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        yield _CsvWriter(handle) if suffix == ".csv" else _JsonlWriter(handle)
