"""Table decks: CSV / TSV with a header row, and Anki plain-text exports.

A header names the columns (`id`, `question`/`front`, `answer`/`back`, …). An
Anki export has no header: its leading `#separator:` / `#html:` / `#… column:N`
lines say how to read the notes, whose first two free columns are front and
back, in Anki's simple HTML unless `#html:false`.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Iterator

from ...errors import Problem
from .parsing import ANSWER_KEYS, ID_KEYS, QUESTION_KEYS, Parsed, add_mapping

__all__ = ["is_anki_export", "parse_csv", "parse_tsv"]

_SEPARATORS = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
_KNOWN_COLUMNS = frozenset((*ID_KEYS, *QUESTION_KEYS, *ANSWER_KEYS))


def parse_csv(shown: str, lines: list[str]) -> Parsed:
    return _parse_table(shown, lines, ",")


def parse_tsv(shown: str, lines: list[str]) -> Parsed:
    """A TSV file, or an Anki `.txt` export (tab-separated unless it says otherwise)."""
    return _parse_table(shown, lines, "\t")


def is_anki_export(lines: list[str]) -> bool:
    """An Anki plain-text export starts with `#separator:` / `#html:` style header lines."""
    first = lines[0].strip().lower() if lines else ""
    return first.startswith(("#separator:", "#html:", "#notetype", "#deck", "#tags", "#guid"))


def _anki_directives(lines: list[str]) -> tuple[dict[str, str], int]:
    """The leading `#key:value` lines (Anki's export header, or comments), and their count."""
    directives: dict[str, str] = {}
    count = 0
    for line in lines:
        if not line.startswith("#"):
            break
        key, _, value = line[1:].strip().partition(":")
        directives[key.strip().lower()] = value.strip()
        count += 1
    return directives, count


def _csv_rows(
    shown: str, lines: list[str], first_line: int, delimiter: str, parsed: Parsed
) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV rows with the line each starts on; a parse error is recorded and ends it."""
    reader = csv.reader(lines, delimiter=delimiter)
    done = 0
    while True:
        start = first_line + done
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            parsed.problems.append(Problem(shown, start, f"cannot parse this row: {err}"))
            return
        done = reader.line_num
        if any(cell.strip() for cell in cells):
            yield start, cells


def _parse_table(shown: str, lines: list[str], delimiter: str) -> Parsed:
    """CSV/TSV with a header naming question and answer, or a headerless Anki export."""
    directives, skip = _anki_directives(lines)
    anki = (
        "separator" in directives
        or "html" in directives
        or any(key.endswith(" column") for key in directives)
    )
    if "separator" in directives:
        delimiter = _SEPARATORS.get(directives["separator"].lower(), directives["separator"])
    elif delimiter == "," and skip < len(lines) and "\t" in lines[skip] and "," not in lines[skip]:
        delimiter = "\t"
    parsed = Parsed(hint="no cards found: the file has no rows with a question and an answer")
    rows = _csv_rows(shown, lines[skip:], skip + 1, delimiter, parsed)
    first = next(rows, None)
    if first is None:
        return parsed
    names = [cell.strip().lower() for cell in first[1]]
    if not anki and _KNOWN_COLUMNS.intersection(names):
        _table_with_header(shown, first[0], names, rows, parsed)
    elif anki or delimiter == "\t":
        _anki_rows(shown, directives, [first, *rows], parsed)
    else:
        parsed.problems.append(
            Problem(
                shown, first[0], "no header: the first row must name the columns id,question,answer"
            )
        )
    return parsed


def _table_with_header(
    shown: str,
    header_line: int,
    names: list[str],
    rows: Iterator[tuple[int, list[str]]],
    parsed: Parsed,
) -> None:
    missing = [
        f"missing column {' or '.join(repr(k) for k in keys)}"
        for keys in (QUESTION_KEYS, ANSWER_KEYS)
        if not set(keys).intersection(names)
    ]
    for message in missing:
        parsed.problems.append(Problem(shown, header_line, message))
    if missing:
        return
    for line, cells in rows:
        if len(cells) != len(names):
            parsed.problems.append(
                Problem(shown, line, f"row has {len(cells)} cells but the header has {len(names)}")
            )
            continue
        add_mapping(shown, line, dict(zip(names, cells, strict=True)), parsed)


def _anki_rows(
    shown: str, directives: dict[str, str], rows: list[tuple[int, list[str]]], parsed: Parsed
) -> None:
    """Front and back of each note: the first two columns not claimed by a `#… column:N` line."""
    claimed = {
        int(value) - 1
        for key, value in directives.items()
        if key.endswith(" column") and value.isdigit()
    }
    as_html = directives.get("html", "true").lower() != "false"
    for line, cells in rows:
        fields = [cell for index, cell in enumerate(cells) if index not in claimed]
        if len(fields) < 2:
            parsed.problems.append(
                Problem(shown, line, "expected two tab-separated fields (front, back), found one")
            )
            continue
        front, back = (_from_html(f) if as_html else f for f in fields[:2])
        add_mapping(shown, line, {"question": front, "answer": back}, parsed)


_BLOCK_TAG = re.compile(r"</?(?:div|p|li|ul|ol)\b[^>]*>", re.IGNORECASE)
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def _from_html(text: str) -> str:
    """Anki's simple HTML as plain text: `<br>` and block tags become line breaks."""
    if "<" not in text and "&" not in text:
        return text
    text = _BR.sub("\n", text)
    text = _BLOCK_TAG.sub("\x00", text)
    text = re.sub(r"\n?\x00+", "\n", text)
    text = _TAG.sub("", text)
    text = html.unescape(text).replace("\xa0", " ")
    return text.strip("\n")
