"""Markdown decks (`.md`, `.markdown`): `## question` headings, or `Q:` / `A:` lines.

The first `# ` heading is the deck's title. Inside code fences '#' and 'Q:' are
just answer text. A file with any `Q:` / `A:` line is read that way; otherwise
each `## ` heading is a question with its answer below it.
"""

from __future__ import annotations

import re

from ...errors import Problem
from .parsing import Block, Entry, Parsed, answer_text, blocks, no_answer

__all__ = ["parse_markdown"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_QA = re.compile(
    r"^\s*(?:\*\*|__)?(Q|A|Question|Answer)(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s?(.*?)\s*$"
)
_FENCE = re.compile(r"^\s*(```|~~~)")


def parse_markdown(shown: str, lines: list[str]) -> Parsed:
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


def _parse_headings(shown: str, lines: list[str], headings: list[tuple[int, str] | None]) -> Parsed:
    def question(index: int, _line: str) -> str | None:
        heading = headings[index]
        return heading[1] if heading and heading[0] == 2 else None

    def stops(index: int, _line: str) -> bool:
        heading = headings[index]
        return heading is not None and heading[0] == 1

    _, found = blocks(lines, question, stops)
    parsed = Parsed(hint="no cards found: write each question as a '## ' heading")
    for block in found:
        answer = answer_text(block.body)
        if not block.head:
            parsed.problems.append(Problem(shown, block.line, "empty '##' heading", "question"))
        elif answer:
            parsed.entries.append(Entry(block.line, block.head, answer))
        else:
            how = "write it below the '##' heading"
            parsed.problems.append(no_answer(shown, block.line, how))
    return parsed


def _parse_qa(
    shown: str, lines: list[str], live: list[bool], headings: list[tuple[int, str] | None]
) -> Parsed:
    def question(index: int, line: str) -> str | None:
        marker = _qa(line) if live[index] else None
        return marker[1] if marker and marker[0] == "Q" else None

    _, found = blocks(lines, question, lambda index, _line: headings[index] is not None)
    parsed = Parsed(hint="no cards found: start each question with 'Q:' and its answer with 'A:'")
    parsed.problems.extend(_orphan_answers(shown, lines, live, headings))
    for block in found:
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


def _qa_card(shown: str, block: Block, live: list[bool], parsed: Parsed) -> None:
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
        parsed.problems.append(no_answer(shown, block.line, "add an 'A:' line after the 'Q:'"))
        return
    offset, first = split
    question = " ".join(s for s in (block.head, *(x.strip() for x in block.body[:offset])) if s)
    answer = answer_text([first, *block.body[offset + 1 :]])
    if not question:
        parsed.problems.append(Problem(shown, block.line, "empty question after 'Q:'", "question"))
    elif not answer:
        parsed.problems.append(no_answer(shown, block.line, "write it after 'A:'"))
    else:
        parsed.entries.append(Entry(block.line, question, answer))
