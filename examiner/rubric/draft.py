"""Draft a rubric from a deck with plain rules, for a teacher to edit.

Key points come from each card's reference answer: bullets, `A -> B` lines,
`Term: definition` lines, and otherwise sentences (short ones folded into a
neighbour). Rules rather than a model keep the draft deterministic and
reviewable; the teacher edits it afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import Problem, RubricError
from ..models import Card, Deck, KeyPoint, Rubric, RubricCard
from ..text import BULLET, content_words, slugify, split_sentences

__all__ = ["MAX_KEY_POINTS", "build_rubric", "draft_key_points"]

MAX_KEY_POINTS = 5
# Sentences with fewer content words than this are folded into a neighbour:
# "= overfitting" or "Sizes are equal" belong with the sentence they follow.
MIN_CONTENT_WORDS = 3

_ARROW = re.compile(r"\s*(?:->|→|=>)\s*")
# "Term: definition" with a short term (no sentence inside it) and a space after the colon.
_DEFINITION = re.compile(r"^(?P<term>[^:.!?]{1,60}?)\s*:\s+(?P<rest>\S.*)$")
_MAX_TERM_WORDS = 5
_MAX_HEADING_WORDS = 5
_NO_ANSWER = "no reference answer to draft key points from; write one or add key points by hand"


@dataclass
class _Draft:
    """A key point being drafted; `structured` ones came from a bullet or a term."""

    text: str
    structured: bool


def build_rubric(deck: Deck, *, title: str | None = None) -> Rubric:
    """A deterministic draft rubric from a deck's reference answers, for a teacher to edit.

    Each key point gets weight 1.0: equal shares are easy to reason about and
    to adjust by hand. No misconceptions are drafted; the teacher adds them.
    Raises RubricError when a card has no reference answer to draft from.
    """
    source = deck.source or "<deck>"
    missing = [
        Problem(source, None, _NO_ANSWER, f"cards[{i}].reference_answer")
        for i, card in enumerate(deck.cards)
        if not _collapse(card.reference_answer)
    ]
    if missing:
        raise RubricError(missing)
    cards = [_draft_card(card) for card in deck.cards]
    return Rubric(title=deck.title if title is None else title, version=1, cards=cards)


def _collapse(text: str) -> str:
    """Whitespace-collapsed text (empty when there is nothing to draft from)."""
    return " ".join(text.split())


def _draft_card(card: Card) -> RubricCard:
    texts = draft_key_points(card.reference_answer)
    ids = _unique_ids([slugify(text, 4) for text in texts])
    points = [KeyPoint(id=i, text=t, weight=1.0) for i, t in zip(ids, texts, strict=True)]
    return RubricCard(
        id=card.id,
        question=card.question,
        reference_answer=card.reference_answer,
        key_points=points,
    )


def draft_key_points(answer: str, limit: int = MAX_KEY_POINTS) -> list[str]:
    """Key point texts for one reference answer: 1 to `limit` of them, in answer order."""
    lines = [line.strip() for line in answer.splitlines() if line.strip()]
    drafts: list[_Draft] = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else None
        if _is_heading(line, following):
            continue
        drafts.extend(_drafts_from_line(line))
    texts = [d.text for d in _merge_short(drafts) if content_words(d.text)]
    if not texts:
        return [_collapse(answer)]
    return _most_content(texts, limit)


def _drafts_from_line(line: str) -> list[_Draft]:
    """A bullet, an arrow or a definition is one key point; other lines split into sentences."""
    is_bullet = bool(BULLET.match(line))
    body = BULLET.sub("", line).strip()
    parts = _ARROW.split(body, maxsplit=1)
    if len(parts) == 2 and parts[0] and parts[1]:
        return [_Draft(f"{_term_case(parts[0])}: {parts[1].strip()}", True)]
    definition = _DEFINITION.match(body)
    if definition and len(definition["term"].split()) <= _MAX_TERM_WORDS:
        return [_Draft(f"{_term_case(definition['term'])}: {definition['rest'].strip()}", True)]
    if is_bullet:
        return [_Draft(_collapse(body), True)]
    return [_Draft(_collapse(s), False) for s in split_sentences(body)]


def _is_heading(line: str, following: str | None) -> bool:
    """A short Title Case line with no punctuation, followed by the text it heads.

    "Locally Connected Layers" above its definitions adds nothing to grade;
    a short last line, or a run of short lines, is content instead.
    """
    return _heading_shaped(line) and following is not None and not _heading_shaped(following)


def _heading_shaped(line: str) -> bool:
    if BULLET.match(line) or _ARROW.search(line) or line[-1] in ".!?:;,)":
        return False
    tokens = [t for t in line.split() if t[:1].isalpha()]
    if not tokens or len(line.split()) > _MAX_HEADING_WORDS or ":" in line:
        return False
    small = {"a", "an", "and", "of", "or", "the", "in", "on", "for", "to", "vs", "with"}
    return all(t[0].isupper() or t.lower() in small for t in tokens)


def _term_case(term: str) -> str:
    """'Valid Convolution' → 'Valid convolution'; acronyms and 'ReLU' stay as written."""
    tokens = term.strip().split()
    if not tokens:
        return ""
    rest = [_lower_title_word(t) for t in tokens[1:]]
    first = tokens[0][:1].upper() + tokens[0][1:]
    return " ".join([first, *rest])


def _lower_title_word(token: str) -> str:
    if len(token) > 1 and token[0].isupper() and token[1:].islower():
        return token.lower()
    return token


def _merge_short(drafts: list[_Draft]) -> list[_Draft]:
    """Fold sentences with few content words into the previous point (or the next one)."""
    merged: list[_Draft] = []
    pending: str | None = None
    for draft in drafts:
        count = len(content_words(draft.text))
        if not draft.structured and 0 < count < MIN_CONTENT_WORDS:
            if merged:
                merged[-1].text = _join(merged[-1].text, draft.text)
            else:
                pending = draft.text if pending is None else _join(pending, draft.text)
            continue
        if pending is not None:
            draft = _Draft(_join(pending, draft.text), draft.structured)
            pending = None
        merged.append(draft)
    if pending is not None:
        merged.append(_Draft(pending, False))
    return merged


def _join(first: str, second: str) -> str:
    """Join two fragments readably: 'a' + 'Sizes are equal' → 'a; sizes are equal'."""
    if not second[:1].isalnum() or first[-1:] in ".!?;:,":
        return f"{first} {second}"
    head, _, tail = second.partition(" ")
    return f"{first}; {_lower_title_word(head)}{' ' + tail if tail else ''}"


def _most_content(texts: Sequence[str], limit: int) -> list[str]:
    """The `limit` texts with most content words, kept in their original order."""
    if len(texts) <= limit:
        return list(texts)
    ranked = sorted(range(len(texts)), key=lambda i: (-len(content_words(texts[i])), i))
    keep = sorted(ranked[:limit])
    return [texts[i] for i in keep]


def _unique_ids(slugs: list[str]) -> list[str]:
    """Make slugs unique within a card by numbering repeats: 'x', 'x-2', 'x-3'."""
    used: set[str] = set()
    out: list[str] = []
    for slug in slugs:
        candidate, n = slug, 1
        while candidate in used:
            n += 1
            candidate = f"{slug}-{n}"
        used.add(candidate)
        out.append(candidate)
    return out
