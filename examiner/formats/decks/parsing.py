"""Load a flashcard deck from a lesson text, Markdown, CSV/TSV, Anki, JSON or JSONL file.

Every loader collects *all* the problems of a file before raising `DeckError`,
so a teacher fixes a deck in one pass rather than one error per run, and each
problem cites the file and the 1-based line (whole-file problems, such as an
empty file, have no line). Answers are kept verbatim (line breaks, bullets,
indentation); only blank lines around them are dropped, because the answer is
what rubrics are drafted from.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from examiner.errors import DeckError, Problem
from examiner.models import Card, Deck
from examiner.submissions import text_value
from examiner.text import slugify

__all__ = ["DECK_EXTENSIONS", "load_deck"]

DECK_EXTENSIONS = (".txt", ".md", ".markdown", ".csv", ".tsv", ".json", ".jsonl")

# Field aliases, most specific first: a graded data set has both `answer` (the
# student's) and `reference_answer` (the deck's), and `question_id` next to an
# answer-level id, so the reference and the question id must win.
ID_KEYS = ("question_id", "card_id", "id")
QUESTION_KEYS = ("question", "front")
ANSWER_KEYS = ("reference_answer", "answer", "back")

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class _Entry:
    """A card as read, before ids are assigned and duplicates merged."""

    line: int
    question: str
    answer: str
    id: str | None = None


@dataclass
class _Parsed:
    title: str = ""
    entries: list[_Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    hint: str = ""


def load_deck(path: str | Path) -> Deck:
    """Read a deck, choosing the format by extension; raise DeckError listing every problem."""
    shown = str(path)
    file = Path(path)
    suffix = file.suffix.lower()
    parser = _PARSERS.get(suffix)
    if parser is None:
        kind = f"'{suffix}'" if suffix else "without an extension"
        raise DeckError.at(
            shown, None, f"unsupported deck file {kind}: use one of {', '.join(DECK_EXTENSIONS)}"
        )
    lines = _read_lines(file, shown)
    if not any(line.strip() for line in lines):
        raise DeckError.at(shown, None, "file is empty")
    if suffix == ".txt" and _is_anki_export(lines):
        parser = _parse_anki_txt
    parsed = parser(shown, lines)
    return _assemble(shown, parsed)


# --- reading -------------------------------------------------------------------------------


def _read_lines(file: Path, shown: str) -> list[str]:
    """The file's lines, each ending in "\\n"; every undecodable line is reported.

    Decoding line by line is what lets the error name the line to fix.
    """
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise DeckError.at(shown, None, "file not found") from None
    except IsADirectoryError:
        raise DeckError.at(shown, None, "is a directory, not a deck file") from None
    except OSError as err:
        raise DeckError.at(shown, None, f"cannot read the file: {err.strerror}") from err
    lines: list[str] = []
    problems: list[Problem] = []
    for number, raw in enumerate(data.removeprefix(_BOM).splitlines(), 1):
        try:
            lines.append(raw.decode("utf-8") + "\n")
        except UnicodeDecodeError as err:
            problems.append(
                Problem(
                    shown,
                    number,
                    f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at byte {err.start + 1} "
                    "of the line); save the file as UTF-8",
                )
            )
    if problems:
        raise DeckError(problems)
    return lines


def _answer_text(lines: list[str]) -> str:
    """Join answer lines verbatim, dropping only the blank lines around them."""
    body = [line.rstrip("\n") for line in lines]
    while body and not body[0].strip():
        body.pop(0)
    while body and not body[-1].strip():
        body.pop()
    return "\n".join(body)


@dataclass
class _Block:
    """A run of lines that starts at a heading line (a question, `## …`, `Q:`)."""

    line: int
    head: str
    body: list[str] = field(default_factory=list)


def _blocks(
    lines: list[str],
    head_of: Callable[[int, str], str | None],
    stops: Callable[[int, str], bool] = lambda _i, _line: False,
) -> tuple[list[str], list[_Block]]:
    """Split lines into a preface and blocks; a stop line ends a block and is dropped."""
    preface: list[str] = []
    blocks: list[_Block] = []
    current: _Block | None = None
    for index, line in enumerate(lines):
        head = head_of(index, line)
        if head is not None:
            current = _Block(index + 1, head)
            blocks.append(current)
        elif stops(index, line):
            current = None
        elif current is not None:
            current.body.append(line)
        else:
            preface.append(line)
    return preface, blocks


def _no_answer(shown: str, line: int, how: str) -> Problem:
    return Problem(shown, line, f"question has no answer: {how}", "answer")


# --- lesson text ---------------------------------------------------------------------------


def _parse_lesson(shown: str, lines: list[str]) -> _Parsed:
    """A line ending in '?' starts a card; the lines up to the next question are its answer."""

    def question(_index: int, line: str) -> str | None:
        text = line.strip()
        return text if text.endswith("?") else None

    preface, blocks = _blocks(lines, question)
    parsed = _Parsed(
        title=next((line.strip() for line in preface if line.strip()), ""),
        hint="no cards found: a card starts with a line ending in '?'",
    )
    for block in blocks:
        answer = _answer_text(block.body)
        if answer:
            parsed.entries.append(_Entry(block.line, block.head, answer))
        else:
            how = "write it on the lines after the question (a line ending in '?' starts a card)"
            parsed.problems.append(_no_answer(shown, block.line, how))
    return parsed


# --- Markdown ------------------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_QA = re.compile(
    r"^\s*(?:\*\*|__)?(Q|A|Question|Answer)(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s?(.*?)\s*$"
)
_FENCE = re.compile(r"^\s*(```|~~~)")


def _outside_fences(lines: list[str]) -> list[bool]:
    """Whether each line is outside a code fence (where '#' and 'Q:' are just text)."""
    mask: list[bool] = []
    fenced = False
    for line in lines:
        if _FENCE.match(line):
            fenced = not fenced
            mask.append(False)
        else:
            mask.append(not fenced)
    return mask


def _heading(line: str) -> tuple[int, str] | None:
    match = _HEADING.match(line.rstrip("\n"))
    return (len(match.group(1)), match.group(2)) if match else None


def _qa(line: str) -> tuple[str, str] | None:
    """('Q' or 'A', rest of the line) for a `Q:` / `A:` line."""
    match = _QA.match(line.rstrip("\n"))
    return (match.group(1)[0], match.group(2)) if match else None


def _parse_markdown(shown: str, lines: list[str]) -> _Parsed:
    """`# Title`, then `## question` headings with the answer below, or `Q:` / `A:` lines."""
    live = _outside_fences(lines)
    headings = [_heading(line) if live[i] else None for i, line in enumerate(lines)]
    title = next((h[1] for h in headings if h and h[0] == 1), "")
    if any(live[i] and _qa(line) for i, line in enumerate(lines)):
        parsed = _parse_qa(shown, lines, live, headings)
    else:
        parsed = _parse_headings(shown, lines, headings)
    parsed.title = title
    return parsed


def _parse_headings(
    shown: str, lines: list[str], headings: list[tuple[int, str] | None]
) -> _Parsed:
    def question(index: int, _line: str) -> str | None:
        heading = headings[index]
        return heading[1] if heading and heading[0] == 2 else None

    def stops(index: int, _line: str) -> bool:
        heading = headings[index]
        return heading is not None and heading[0] == 1

    _, blocks = _blocks(lines, question, stops)
    parsed = _Parsed(hint="no cards found: write each question as a '## ' heading")
    for block in blocks:
        answer = _answer_text(block.body)
        if not block.head:
            parsed.problems.append(Problem(shown, block.line, "empty '##' heading", "question"))
        elif answer:
            parsed.entries.append(_Entry(block.line, block.head, answer))
        else:
            how = "write it below the '##' heading"
            parsed.problems.append(_no_answer(shown, block.line, how))
    return parsed


def _parse_qa(
    shown: str, lines: list[str], live: list[bool], headings: list[tuple[int, str] | None]
) -> _Parsed:
    def question(index: int, line: str) -> str | None:
        marker = _qa(line) if live[index] else None
        return marker[1] if marker and marker[0] == "Q" else None

    _, blocks = _blocks(lines, question, lambda index, _line: headings[index] is not None)
    parsed = _Parsed(hint="no cards found: start each question with 'Q:' and its answer with 'A:'")
    parsed.problems.extend(_orphan_answers(shown, lines, live, headings))
    for block in blocks:
        _qa_card(shown, block, live, parsed)
    return parsed


def _orphan_answers(
    shown: str, lines: list[str], live: list[bool], headings: list[tuple[int, str] | None]
) -> list[Problem]:
    """'A:' lines with no 'Q:' before them (in the file or since the last heading)."""
    problems: list[Problem] = []
    open_question = False
    for index, line in enumerate(lines):
        if not live[index]:
            continue
        if headings[index] is not None:
            open_question = False
        elif marker := _qa(line):
            if marker[0] == "Q":
                open_question = True
            elif not open_question:
                problems.append(Problem(shown, index + 1, "'A:' line without a 'Q:' before it"))
    return problems


def _qa_card(shown: str, block: _Block, live: list[bool], parsed: _Parsed) -> None:
    """Split a `Q:` block at its `A:` line: question lines before, answer lines after."""
    split = None
    for offset, line in enumerate(block.body):
        marker = _qa(line) if live[block.line + offset] else None
        if marker and marker[0] == "A":
            if split is not None:
                where = block.line + offset + 1
                parsed.problems.append(Problem(shown, where, "second 'A:' line for one 'Q:'"))
            else:
                split = (offset, marker[1])
    if split is None:
        parsed.problems.append(_no_answer(shown, block.line, "add an 'A:' line after the 'Q:'"))
        return
    offset, first = split
    question = " ".join(s for s in (block.head, *(x.strip() for x in block.body[:offset])) if s)
    answer = _answer_text([first, *block.body[offset + 1 :]])
    if not question:
        parsed.problems.append(Problem(shown, block.line, "empty question after 'Q:'", "question"))
    elif not answer:
        parsed.problems.append(_no_answer(shown, block.line, "write it after 'A:'"))
    else:
        parsed.entries.append(_Entry(block.line, question, answer))


# --- CSV / TSV / Anki ----------------------------------------------------------------------

_SEPARATORS = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
_KNOWN_COLUMNS = frozenset((*ID_KEYS, *QUESTION_KEYS, *ANSWER_KEYS))


def _is_anki_export(lines: list[str]) -> bool:
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
    shown: str, lines: list[str], first_line: int, delimiter: str, parsed: _Parsed
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


def _parse_table(shown: str, lines: list[str], delimiter: str) -> _Parsed:
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
    parsed = _Parsed(hint="no cards found: the file has no rows with a question and an answer")
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
    parsed: _Parsed,
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
        _add_mapping(shown, line, dict(zip(names, cells, strict=True)), parsed)


def _anki_rows(
    shown: str, directives: dict[str, str], rows: list[tuple[int, list[str]]], parsed: _Parsed
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
        _add_mapping(shown, line, {"question": front, "answer": back}, parsed)


def _parse_anki_txt(shown: str, lines: list[str]) -> _Parsed:
    return _parse_table(shown, lines, "\t")


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


# --- JSON / JSONL --------------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")


def _skip_ws(text: str, index: int) -> int:
    match = _WS.match(text, index)
    return match.end() if match else index


def _parse_json(shown: str, lines: list[str]) -> _Parsed:
    """A list of card objects, or an object with `title` and `cards`."""
    text = "".join(lines)
    parsed = _Parsed(hint="no cards found: the JSON has no card objects")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        message = f"not valid JSON: {err.msg} (column {err.colno})"
        parsed.problems.append(Problem(shown, err.lineno, message))
        return parsed
    if isinstance(document, dict):
        title = document.get("title", "")
        parsed.title = title.strip() if isinstance(title, str) else ""
        items = document.get("cards")
        if not isinstance(items, list):
            message = "expected a 'cards' list (or make the file a list of card objects)"
            parsed.problems.append(Problem(shown, 1, message, "cards"))
            return parsed
    elif isinstance(document, list):
        items = document
    else:
        parsed.problems.append(Problem(shown, 1, "expected a list of cards or an object"))
        return parsed
    for item, line in zip(items, _card_lines(text), strict=True):
        _add_json_item(shown, line, item, parsed)
    return parsed


def _card_lines(text: str) -> list[int]:
    """The line on which each card of an already-valid JSON document starts.

    `json` gives no positions, so walk the top level with `raw_decode`: the
    cards list is the document itself or the value of its last `cards` key.
    """
    decoder = json.JSONDecoder()
    index = _skip_ws(text, 0)
    start: int | None = index if text[index] == "[" else None
    if start is None:
        index += 1
        while text[_skip_ws(text, index)] != "}":
            index = _skip_ws(text, index)
            key, index = decoder.raw_decode(text, index)
            index = _skip_ws(text, index) + 1  # the ':'
            index = _skip_ws(text, index)
            if key == "cards" and text[index] == "[":
                start = index
            _, index = decoder.raw_decode(text, index)
            index = _skip_ws(text, index)
            if text[index] == ",":
                index += 1
    return [] if start is None else _array_item_lines(text, start, decoder)


def _array_item_lines(text: str, start: int, decoder: json.JSONDecoder) -> list[int]:
    lines: list[int] = []
    index = start + 1
    while True:
        index = _skip_ws(text, index)
        if text[index] == "]":
            return lines
        lines.append(text.count("\n", 0, index) + 1)
        _, index = decoder.raw_decode(text, index)
        index = _skip_ws(text, index)
        if text[index] == ",":
            index += 1


def _parse_jsonl(shown: str, lines: list[str]) -> _Parsed:
    """One card object per line; blank lines are skipped."""
    parsed = _Parsed(hint="no cards found: the file has no JSON objects")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            message = f"not valid JSON: {err.msg} (column {err.colno})"
            parsed.problems.append(Problem(shown, number, message))
            continue
        _add_json_item(shown, number, item, parsed)
    return parsed


def _add_json_item(shown: str, line: int, item: object, parsed: _Parsed) -> None:
    if isinstance(item, dict):
        _add_mapping(shown, line, {str(k).strip().lower(): v for k, v in item.items()}, parsed)
    else:
        message = "expected an object with 'question' and 'answer'"
        parsed.problems.append(Problem(shown, line, message))


# --- fields to cards -----------------------------------------------------------------------


def _add_mapping(shown: str, line: int, item: Mapping[str, object], parsed: _Parsed) -> None:
    """Turn one row or object (lower-case keys) into an entry, or record what is wrong."""
    before = len(parsed.problems)
    card_id = _pick(shown, line, item, ID_KEYS, parsed)
    question = _pick(shown, line, item, QUESTION_KEYS, parsed)
    answer = _pick(shown, line, item, ANSWER_KEYS, parsed)
    if len(parsed.problems) > before:
        return
    question = (question or "").strip()
    answer = _answer_text((answer or "").splitlines())
    if not question:
        parsed.problems.append(Problem(shown, line, "missing question", "question"))
    elif not answer:
        parsed.problems.append(_no_answer(shown, line, "the answer field is empty"))
    else:
        parsed.entries.append(_Entry(line, question, answer, (card_id or "").strip() or None))


def _pick(
    shown: str, line: int, item: Mapping[str, object], keys: tuple[str, ...], parsed: _Parsed
) -> str | None:
    """The first of `keys` with a value, as text; a non-text value is recorded as a problem."""
    for key in keys:
        value = item.get(key)
        if value is None:
            continue
        try:
            return text_value(value)
        except TypeError as err:
            parsed.problems.append(Problem(shown, line, str(err), key))
            return None
    return None


def _assemble(shown: str, parsed: _Parsed) -> Deck:
    """Assign ids, merge identical repeats, refuse conflicting ones, and build the Deck.

    A graded data set repeats its question on every answer row, so rows with the
    same id (or, without ids, the same question and answer) merge into one card.
    """
    problems = list(parsed.problems)
    explicit = {entry.id for entry in parsed.entries if entry.id}
    by_id: dict[str, _Entry] = {}
    by_text: set[tuple[str, str]] = set()
    cards: list[Card] = []
    for entry in parsed.entries:
        if entry.id:
            first = by_id.setdefault(entry.id, entry)
            if first is not entry:
                if (first.question, first.answer) != (entry.question, entry.answer):
                    message = (
                        f"card id {entry.id!r} is already used on line {first.line} "
                        "for a different question or answer"
                    )
                    problems.append(Problem(shown, entry.line, message, "id"))
                continue
            card_id = entry.id
        else:
            if (entry.question, entry.answer) in by_text:
                continue
            by_text.add((entry.question, entry.answer))
            card_id = _unique_slug(entry.question, explicit)
            explicit.add(card_id)
        cards.append(Card(id=card_id, question=entry.question, reference_answer=entry.answer))
    if problems:
        raise DeckError(sorted(problems, key=lambda p: p.line or 0))
    if not cards:
        raise DeckError.at(shown, None, parsed.hint or "no cards found")
    return Deck(title=parsed.title, source=shown, cards=cards)


def _unique_slug(question: str, taken: set[str]) -> str:
    """A slug of the question, suffixed -2, -3 … until no other card has it."""
    base = slugify(question)
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


_PARSERS: dict[str, Callable[[str, list[str]], _Parsed]] = {
    ".txt": _parse_lesson,
    ".md": _parse_markdown,
    ".markdown": _parse_markdown,
    ".csv": lambda shown, lines: _parse_table(shown, lines, ","),
    ".tsv": lambda shown, lines: _parse_table(shown, lines, "\t"),
    ".json": _parse_json,
    ".jsonl": _parse_jsonl,
}
