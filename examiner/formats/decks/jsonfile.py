"""JSON and JSONL decks: card objects with `question` and `answer` (and an optional `id`).

A `.json` file is a list of card objects, or an object with `title` and
`cards`; a `.jsonl` file holds one card object per line.
"""

from __future__ import annotations

import json
import re

from ...errors import Problem
from .parsing import Parsed, add_mapping

__all__ = ["parse_json", "parse_jsonl"]

_WS = re.compile(r"[ \t\n\r]*")


def parse_json(shown: str, lines: list[str]) -> Parsed:
    """A list of card objects, or an object with `title` and `cards`."""
    text = "".join(lines)
    parsed = Parsed(hint="no cards found: the JSON has no card objects")
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


def parse_jsonl(shown: str, lines: list[str]) -> Parsed:
    """One card object per line; blank lines are skipped."""
    parsed = Parsed(hint="no cards found: the file has no JSON objects")
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


def _skip_ws(text: str, index: int) -> int:
    match = _WS.match(text, index)
    return match.end() if match else index


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


def _add_json_item(shown: str, line: int, item: object, parsed: Parsed) -> None:
    if isinstance(item, dict):
        add_mapping(shown, line, {str(k).strip().lower(): v for k, v in item.items()}, parsed)
    else:
        message = "expected an object with 'question' and 'answer'"
        parsed.problems.append(Problem(shown, line, message))
