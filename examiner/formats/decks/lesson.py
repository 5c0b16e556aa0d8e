"""Lesson text decks (`.txt`): a question line ending in '?', its answer on the lines below.

The first non-blank line before the first question is the deck's title.
"""

from __future__ import annotations

from .parsing import Entry, Parsed, answer_text, blocks, no_answer

__all__ = ["parse_lesson"]


def parse_lesson(shown: str, lines: list[str]) -> Parsed:
    """A line ending in '?' starts a card; the lines up to the next question are its answer."""

    def question(_index: int, line: str) -> str | None:
        text = line.strip()
        return text if text.endswith("?") else None

    preface, found = blocks(lines, question)
    parsed = Parsed(
        title=next((line.strip() for line in preface if line.strip()), ""),
        hint="no cards found: a card starts with a line ending in '?'",
    )
    for block in found:
        answer = answer_text(block.body)
        if answer:
            parsed.entries.append(Entry(block.line, block.head, answer))
        else:
            how = "write it on the lines after the question (a line ending in '?' starts a card)"
            parsed.problems.append(no_answer(shown, block.line, how))
    return parsed
