"""Stream records and submissions out of CSV and JSONL files.

Answer files can hold millions of rows, so everything here is a generator that
holds one record at a time. A bad row (invalid JSON, undecodable bytes, the
wrong number of cells, a missing field) is *yielded* as a `Problem` and reading
goes on: one typo must not cost a teacher the other answers. Only a file that
cannot be read at all (missing, unsupported type, no header) raises
`SubmissionsError`, and it does so when the iterator is created, not on the
first `next()`, so callers can report it before starting any work.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from ..errors import Problem, SubmissionsError
from ..models import Submission

__all__ = [
    "SUBMISSION_EXTENSIONS",
    "FieldValue",
    "Record",
    "iter_records",
    "iter_submissions",
    "open_records",
    "submission_from_record",
    "text_value",
]

SUBMISSION_EXTENSIONS = (".csv", ".tsv", ".jsonl", ".ndjson")

# CSV cells are always strings; JSONL values keep their JSON type (nested
# values such as lists are kept too, so nothing in a data set is lost).
FieldValue = str | int | float | bool | None | list[Any] | dict[str, Any]

CARD_KEYS = ("card", "card_id", "question_id")
STUDENT_KEY = "student_id"
ANSWER_ID_KEY = "answer_id"
ANSWER_KEY = "answer"

_BOM = b"\xef\xbb\xbf"
_JSON_TYPES = {
    "dict": "an object",
    "list": "an array",
    "str": "a string",
    "int": "a number",
    "float": "a number",
    "bool": "true/false",
    "NoneType": "null",
}


@dataclass(frozen=True)
class Record:
    """One CSV record or JSONL object, with the line where it starts (1-based)."""

    row: int
    fields: dict[str, FieldValue]


@dataclass(frozen=True)
class _Header:
    """First item of an internal stream: CSV column names, or None for JSONL."""

    columns: tuple[str, ...] | None


def text_value(value: object) -> str | None:
    """The text of a scalar field value, or None when it is null.

    Ids often arrive as JSON numbers (`3`, `1.1`) and must compare equal to
    the same id written as a string; an integral float (`2.0`, as spreadsheet
    exports write card numbers) becomes `"2"`. Anything that is not text or a
    number raises TypeError with a message fit for a `Problem`.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise TypeError("expected text or a number, got true/false")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    raise TypeError(f"expected text or a number, got {_json_type(value)}")


def iter_records(path: str | Path) -> Iterator[Record | Problem]:
    """Records of a `.csv`, `.tsv`, `.jsonl` or `.ndjson` file, bad rows as Problems."""
    return open_records(path)[1]


def iter_submissions(path: str | Path) -> Iterator[Submission | Problem]:
    """Submissions of a CSV or JSONL file, each bad row as one or more Problems.

    Column names are matched case-insensitively. The card comes from `card`,
    `card_id` or `question_id`; the student from `student_id`, or else from
    `answer_id` (graded data sets identify answers, not students). A CSV header
    that lacks a required column raises at once instead of failing every row.
    """
    shown = str(path)
    columns, records = open_records(path)
    if columns is not None:
        _require_columns(shown, columns)
    return _submissions(shown, records)


# --- opening -------------------------------------------------------------------------------


def open_records(path: str | Path) -> tuple[tuple[str, ...] | None, Iterator[Record | Problem]]:
    """Check the file and read its header eagerly; return the header and the record stream."""
    shown = str(path)
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in SUBMISSION_EXTENSIONS:
        kind = f"'{suffix}'" if suffix else "without an extension"
        raise SubmissionsError.at(
            shown,
            None,
            f"unsupported file type {kind}: use one of {', '.join(SUBMISSION_EXTENSIONS)}",
        )
    if not file.exists():
        raise SubmissionsError.at(shown, None, "file not found")
    if file.is_dir():
        raise SubmissionsError.at(shown, None, "is a directory, not a file")
    if file.stat().st_size == 0:
        raise SubmissionsError.at(shown, None, "file is empty")
    if suffix in (".csv", ".tsv"):
        stream = _csv_stream(file, shown, "\t" if suffix == ".tsv" else ",")
    else:
        stream = _jsonl_stream(file, shown)
    try:
        first = next(stream)
    except OSError as err:
        raise SubmissionsError.at(shown, None, f"cannot read the file: {err.strerror}") from err
    assert isinstance(first, _Header)
    # The generator is already running inside its `with open(...)`, so closing
    # or dropping it closes the file.
    return first.columns, cast(Iterator[Record | Problem], stream)


# --- CSV -----------------------------------------------------------------------------------


class _DecodedLines:
    """Decode a binary file line by line, remembering which lines were not UTF-8.

    Decoding per line (instead of with a text-mode file) lets one bad byte cost
    only the record that contains it; the CSV reader sees a replacement
    character there and stays in step with the physical lines.
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._bad: list[int] = []

    def __iter__(self) -> Iterator[str]:
        for number, raw in enumerate(self._handle, 1):
            if number == 1:
                raw = raw.removeprefix(_BOM)
                if not raw:  # the file is nothing but a BOM
                    return
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                self._bad.append(number)
                yield raw.decode("utf-8", errors="replace")

    def take_bad(self, upto: int) -> list[int]:
        """Undecodable line numbers up to `upto`, forgotten once taken."""
        taken = [n for n in self._bad if n <= upto]
        self._bad = [n for n in self._bad if n > upto]
        return taken


def _csv_stream(file: Path, shown: str, delimiter: str) -> Iterator[_Header | Record | Problem]:
    with file.open("rb") as handle:
        lines = _DecodedLines(handle)
        reader = csv.reader(lines, delimiter=delimiter)
        columns = _read_header(shown, reader, lines)
        yield _Header(columns)
        done = reader.line_num
        while True:
            start = done + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                done = reader.line_num
                lines.take_bad(done)
                yield Problem(shown, start, f"cannot parse this CSV record: {err}")
                continue
            done = reader.line_num
            item = _csv_record(shown, start, cells, columns, lines.take_bad(done))
            if item is not None:
                yield item


def _read_header(shown: str, reader: Iterator[list[str]], lines: _DecodedLines) -> tuple[str, ...]:
    """Column names from line 1; a file without them cannot be read at all."""
    try:
        header = next(reader)
    except StopIteration:
        raise SubmissionsError.at(shown, None, "file is empty") from None
    except csv.Error as err:
        raise SubmissionsError.at(shown, 1, f"cannot parse the header: {err}") from err
    if lines.take_bad(1):
        raise SubmissionsError.at(shown, 1, "the header is not valid UTF-8; save the file as UTF-8")
    columns = tuple(cell.strip() for cell in header)
    if not any(columns):
        raise SubmissionsError.at(
            shown, 1, "no header: line 1 must name the columns (student_id,card,answer)"
        )
    seen: set[str] = set()
    for name in columns:
        key = name.lower()
        if key and key in seen:
            raise SubmissionsError.at(shown, 1, f"column {name!r} appears twice in the header")
        seen.add(key)
    return columns


def _csv_record(
    shown: str, start: int, cells: list[str], columns: tuple[str, ...], bad_lines: list[int]
) -> Record | Problem | None:
    """A Record, a Problem for a broken row, or None for a blank line."""
    if bad_lines:
        where = f"line {bad_lines[0]}" if bad_lines[0] != start else "this row"
        return Problem(shown, start, f"{where} is not valid UTF-8; save the file as UTF-8")
    if not cells or (len(cells) == 1 and len(columns) > 1 and not cells[0].strip()):
        return None
    if len(cells) != len(columns):
        return Problem(
            shown,
            start,
            f"row has {len(cells)} cells but the header has {len(columns)} columns "
            "(quote cells that contain the separator)",
        )
    return Record(start, {name: cell for name, cell in zip(columns, cells, strict=True) if name})


# --- JSONL ---------------------------------------------------------------------------------


def _jsonl_stream(file: Path, shown: str) -> Iterator[_Header | Record | Problem]:
    with file.open("rb") as handle:
        yield _Header(None)
        for number, raw in enumerate(handle, 1):
            if number == 1:
                raw = raw.removeprefix(_BOM)
            item = _jsonl_record(shown, number, raw)
            if item is not None:
                yield item


def _jsonl_record(shown: str, number: int, raw: bytes) -> Record | Problem | None:
    """A Record, a Problem for a broken line, or None for a blank line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Problem(shown, number, "line is not valid UTF-8; save the file as UTF-8")
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        return Problem(shown, number, f"not valid JSON: {err.msg} (column {err.colno})")
    if not isinstance(value, dict):
        return Problem(shown, number, f"expected a JSON object, got {_json_type(value)}")
    return Record(number, value)


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value).__name__, type(value).__name__)


# --- submissions ---------------------------------------------------------------------------


def _require_columns(shown: str, columns: Iterable[str]) -> None:
    """Refuse a CSV header without the columns every row needs, naming each one."""
    names = {name.lower() for name in columns}
    problems = []
    if not names.intersection(CARD_KEYS):
        problems.append(
            Problem(shown, 1, f"no card column (name it one of: {', '.join(CARD_KEYS)})", "card")
        )
    if STUDENT_KEY not in names and ANSWER_ID_KEY not in names:
        problems.append(Problem(shown, 1, "no student_id (or answer_id) column", STUDENT_KEY))
    if ANSWER_KEY not in names:
        problems.append(Problem(shown, 1, "no answer column", ANSWER_KEY))
    if problems:
        raise SubmissionsError(problems)


def _submissions(shown: str, records: Iterator[Record | Problem]) -> Iterator[Submission | Problem]:
    for item in records:
        if isinstance(item, Problem):
            yield item
        else:
            yield from submission_from_record(shown, item)


def submission_from_record(shown: str, record: Record) -> list[Submission] | list[Problem]:
    """One Submission, or every Problem of the record (so one pass shows them all)."""
    fields = {key.strip().lower(): value for key, value in record.fields.items()}
    problems: list[Problem] = []

    def field(key: str, strip: bool = True) -> str | None:
        try:
            text = text_value(fields.get(key))
        except TypeError as err:
            problems.append(Problem(shown, record.row, str(err), key))
            return None
        return text.strip() if text is not None and strip else text

    card_key = next((k for k in CARD_KEYS if fields.get(k) is not None), CARD_KEYS[0])
    card = field(card_key)
    answer_id = field(ANSWER_ID_KEY) or None
    student = field(STUDENT_KEY) or answer_id
    answer = field(ANSWER_KEY, strip=False)
    if not card and not _has_problem(problems, card_key):
        problems.append(
            Problem(shown, record.row, "no card (card, card_id or question_id)", "card")
        )
    if not student and not _has_problem(problems, STUDENT_KEY):
        problems.append(Problem(shown, record.row, "no student_id (or answer_id)", STUDENT_KEY))
    if answer is None and not _has_problem(problems, ANSWER_KEY):
        problems.append(
            Problem(
                shown,
                record.row,
                'no answer (an empty answer must be written as "")',
                ANSWER_KEY,
            )
        )
    if problems or card is None or student is None or answer is None:
        return problems
    return [
        Submission(
            student_id=student, card=card, answer=answer, row=record.row, answer_id=answer_id
        )
    ]


def _has_problem(problems: list[Problem], key: str) -> bool:
    return any(p.field == key for p in problems)
