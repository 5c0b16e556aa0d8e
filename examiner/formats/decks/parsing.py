"""What every deck format shares: the file's lines, the entries read from them, the Deck.

Each format's parser turns the lines into a `Parsed`: the entries (cards as
read) and the problems found, so a teacher sees every problem at once.
`assemble` then assigns ids, merges repeats and raises `DeckError` if any
problem was found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import DeckError, Problem
from ...models import Card, Deck
from ...text import slugify
from ..submissions import text_value

__all__ = [
    "ANSWER_KEYS",
    "ID_KEYS",
    "QUESTION_KEYS",
    "Block",
    "Entry",
    "Parsed",
    "Parser",
    "add_mapping",
    "answer_text",
    "assemble",
    "blocks",
    "no_answer",
    "read_lines",
]

# Field aliases, most specific first: a graded data set has both `answer` (the
# student's) and `reference_answer` (the deck's), and `question_id` next to an
# answer-level id, so the reference and the question id must win.
ID_KEYS = ("question_id", "card_id", "id")
QUESTION_KEYS = ("question", "front")
ANSWER_KEYS = ("reference_answer", "answer", "back")

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Entry:
    """A card as read, before ids are assigned and duplicates merged."""

    line: int
    question: str
    answer: str
    id: str | None = None


@dataclass
class Parsed:
    """A parser's result: the deck title, the entries, the problems, and a hint for no cards."""

    title: str = ""
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    hint: str = ""


# A parser takes the name to show in problems and the file's lines.
Parser = Callable[[str, list[str]], Parsed]


# --- reading -------------------------------------------------------------------------------


def read_lines(file: Path, shown: str) -> list[str]:
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


def answer_text(lines: list[str]) -> str:
    """Join answer lines verbatim, dropping only the blank lines around them."""
    body = [line.rstrip("\n") for line in lines]
    while body and not body[0].strip():
        body.pop(0)
    while body and not body[-1].strip():
        body.pop()
    return "\n".join(body)


@dataclass
class Block:
    """A run of lines that starts at a heading line (a question, `## …`, `Q:`)."""

    line: int
    head: str
    body: list[str] = field(default_factory=list)


def blocks(
    lines: list[str],
    head_of: Callable[[int, str], str | None],
    stops: Callable[[int, str], bool] = lambda _i, _line: False,
) -> tuple[list[str], list[Block]]:
    """Split lines into a preface and blocks; a stop line ends a block and is dropped."""
    preface: list[str] = []
    found: list[Block] = []
    current: Block | None = None
    for index, line in enumerate(lines):
        head = head_of(index, line)
        if head is not None:
            current = Block(index + 1, head)
            found.append(current)
        elif stops(index, line):
            current = None
        elif current is not None:
            current.body.append(line)
        else:
            preface.append(line)
    return preface, found


def no_answer(shown: str, line: int, how: str) -> Problem:
    return Problem(shown, line, f"question has no answer: {how}", "answer")


# --- fields to cards -----------------------------------------------------------------------


def add_mapping(shown: str, line: int, item: Mapping[str, object], parsed: Parsed) -> None:
    """Turn one row or object (lower-case keys) into an entry, or record what is wrong."""
    before = len(parsed.problems)
    card_id = _pick(shown, line, item, ID_KEYS, parsed)
    question = _pick(shown, line, item, QUESTION_KEYS, parsed)
    answer = _pick(shown, line, item, ANSWER_KEYS, parsed)
    if len(parsed.problems) > before:
        return
    question = (question or "").strip()
    answer = answer_text((answer or "").splitlines())
    if not question:
        parsed.problems.append(Problem(shown, line, "missing question", "question"))
    elif not answer:
        parsed.problems.append(no_answer(shown, line, "the answer field is empty"))
    else:
        parsed.entries.append(Entry(line, question, answer, (card_id or "").strip() or None))


def _pick(
    shown: str, line: int, item: Mapping[str, object], keys: tuple[str, ...], parsed: Parsed
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


# --- entries to a deck ---------------------------------------------------------------------


def assemble(shown: str, parsed: Parsed) -> Deck:
    """Assign ids, merge identical repeats, refuse conflicting ones, and build the Deck.

    A graded data set repeats its question on every answer row, so rows with the
    same id (or, without ids, the same question and answer) merge into one card.
    """
    problems = list(parsed.problems)
    explicit = {entry.id for entry in parsed.entries if entry.id}
    by_id: dict[str, Entry] = {}
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
