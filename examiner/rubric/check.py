"""Build, load, save and check rubrics (the YAML files in `rubrics/`).

A rubric is edited by hand by teachers, so checking it is about the person
fixing it: every problem is reported at once, each with the file, the line of
the offending YAML node and the field path (`cards[3].key_points[1].weight`,
indices 0-based as in the file's lists), in words a teacher can act on.

Lines come from composing the YAML into nodes first (which keep their start
marks) and mapping each pydantic error location back onto that node tree.
Duplicate ids are found by walking the nodes ourselves, because pydantic stops
at the first duplicate and does not know lines.

`build_rubric` drafts key points from each card's reference answer with plain
rules (bullets, `A -> B` lines, `Term: definition` lines, sentences) so the
draft is deterministic and reviewable; the teacher edits it afterwards.

Everything here is pure apart from reading and writing files in
`load_rubric`, `check_rubric` and `save_rubric`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .errors import Problem, RubricError
from .models import Card, Deck, KeyPoint, Misconception, Rubric, RubricCard
from .text import content_words, slugify, split_sentences

__all__ = [
    "MAX_KEY_POINTS",
    "build_rubric",
    "check_rubric",
    "check_rubric_text",
    "draft_key_points",
    "load_rubric",
    "parse_rubric",
    "rubric_to_yaml",
    "save_rubric",
]

# ---------------------------------------------------------------------------
# Loading and checking
# ---------------------------------------------------------------------------

Loc = tuple[str | int, ...]

_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_INT_TAG = "tag:yaml.org,2002:int"

# Fields that are always text: a plain `id: 1.1` or `title: yes` means the
# text the teacher typed, not a float or a boolean.
_TEXT_FIELDS = frozenset({"id", "title", "question", "reference_answer", "text", "correction"})

# Which model a list field holds, to know the allowed fields at each level.
_CHILD_MODEL: dict[tuple[type[BaseModel], str], type[BaseModel]] = {
    (Rubric, "cards"): RubricCard,
    (RubricCard, "key_points"): KeyPoint,
    (RubricCard, "misconceptions"): Misconception,
}

_SYNTAX_HINT = "check the indentation, and quote text that contains ': ' or starts with a symbol"


def load_rubric(path: str | Path) -> Rubric:
    """Read and validate a rubric file; RubricError lists every problem found."""
    problems, rubric = _read_and_check(path)
    if problems or rubric is None:
        raise RubricError(problems or [Problem(str(path), None, "the rubric is not valid")])
    return rubric


def check_rubric(path: str | Path) -> list[Problem]:
    """The problems `load_rubric` would raise, without raising ([] when valid)."""
    return _read_and_check(path)[0]


def parse_rubric(text: str, source: str = "<rubric>") -> Rubric:
    """Validate rubric YAML given as text; `source` names it in problems."""
    problems, rubric = _check_text(text, source)
    if problems or rubric is None:
        raise RubricError(problems or [Problem(source, None, "the rubric is not valid")])
    return rubric


def check_rubric_text(text: str, source: str = "<rubric>") -> list[Problem]:
    """The problems of rubric YAML given as text ([] when valid)."""
    return _check_text(text, source)[0]


def _read_and_check(path: str | Path) -> tuple[list[Problem], Rubric | None]:
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return [Problem(name, None, "file not found")], None
    except IsADirectoryError:
        return [Problem(name, None, "is a directory, not a rubric file")], None
    except UnicodeDecodeError as exc:
        return [Problem(name, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")], None
    except OSError as exc:
        return [Problem(name, None, f"cannot read the file: {exc.strerror or exc}")], None
    return _check_text(text, name)


def _check_text(text: str, source: str) -> tuple[list[Problem], Rubric | None]:
    """Compose, construct and validate; returns (problems, rubric or None)."""
    try:
        root, data = _compose_and_construct(text)
    except yaml.YAMLError as exc:
        return [_syntax_problem(exc, source)], None
    if root is None:
        return [
            Problem(source, None, "the file is empty; a rubric needs 'title' and 'cards'")
        ], None
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        message = (
            "a rubric must be a YAML mapping with 'title', 'version' and 'cards' "
            f"at the top level, not {_describe(data)}"
        )
        return [Problem(source, _line(root), message)], None

    problems = _duplicate_keys(root, source)
    problems += _duplicate_ids(root, source)
    rubric: Rubric | None = None
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        problems += _validation_problems(exc, root, source)
    return _sorted_unique(problems), (None if problems else rubric)


def _compose_and_construct(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse once, keeping both the node tree (for lines) and the Python data."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _text_fields_as_str(root)
        return root, loader.construct_document(root)
    finally:
        loader.dispose()


def _syntax_problem(exc: yaml.YAMLError, source: str) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    what = getattr(exc, "problem", None) or str(exc)
    return Problem(source, line, f"YAML syntax error: {what} ({_SYNTAX_HINT})")


def _text_fields_as_str(node: yaml.Node) -> None:
    """Retag plain scalars of text fields as strings, so `id: 1.10` stays '1.10'."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name in _TEXT_FIELDS:
                _as_str(value)
            elif name == "alternatives" and isinstance(value, yaml.SequenceNode):
                for item in value.value:
                    _as_str(item)
            elif _is_non_int_scalar(value) and name == "version":
                value.tag = _STR_TAG
            _text_fields_as_str(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _text_fields_as_str(item)


def _is_non_int_scalar(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag not in (_INT_TAG, _NULL_TAG)


def _as_str(node: yaml.Node) -> None:
    if isinstance(node, yaml.ScalarNode) and node.tag != _NULL_TAG:
        node.tag = _STR_TAG


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _entry(node: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    """The (key node, value node) of `key` in a mapping; the last one wins, as in YAML."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in reversed(node.value):
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _locate(root: yaml.Node, loc: Loc) -> int:
    """Line of the node at `loc`, or of its nearest existing parent.

    A mapping entry is reported at its key's line (where a `|` block or a
    nested list starts), a list item at its first line.
    """
    node, line = root, _line(root)
    for part in loc:
        if isinstance(part, int):
            if not isinstance(node, yaml.SequenceNode) or not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = _line(node)
        else:
            found = _entry(node, part)
            if found is None:
                break
            line, node = _line(found[0]), found[1]
    return line


def _field_path(loc: Loc) -> str | None:
    """('cards', 3, 'weight') → 'cards[3].weight'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or None


def _duplicate_keys(root: yaml.Node, source: str) -> list[Problem]:
    """Repeated keys in one mapping: YAML keeps only the last, silently losing the first."""
    problems: list[Problem] = []
    for node, loc in _walk(root, ()):
        if not isinstance(node, yaml.MappingNode):
            continue
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = str(key_node.value)
            if key in seen:
                message = (
                    f"duplicate key '{key}' (also on line {seen[key]}); "
                    "only the last one would count"
                )
                problems.append(Problem(source, _line(key_node), message, _field_path((*loc, key))))
            else:
                seen[key] = _line(key_node)
    return problems


def _walk(node: yaml.Node, loc: Loc) -> Iterator[tuple[yaml.Node, Loc]]:
    yield node, loc
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                yield from _walk(value_node, (*loc, str(key_node.value)))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, (*loc, index))


def _duplicate_ids(root: yaml.Node, source: str) -> list[Problem]:
    """Every repeated card, key point and misconception id, each at its own line."""
    cards = _entry(root, "cards")
    if cards is None or not isinstance(cards[1], yaml.SequenceNode):
        return []
    problems = _repeated_ids(cards[1].value, "card", ("cards",), source)
    for index, card in enumerate(cards[1].value):
        for field, what in (("key_points", "key point"), ("misconceptions", "misconception")):
            items = _entry(card, field)
            if items is not None and isinstance(items[1], yaml.SequenceNode):
                loc: Loc = ("cards", index, field)
                problems += _repeated_ids(items[1].value, what, loc, source)
    return problems


def _repeated_ids(items: list[yaml.Node], what: str, loc: Loc, source: str) -> list[Problem]:
    first_line: dict[str, int] = {}
    problems: list[Problem] = []
    for index, item in enumerate(items):
        found = _entry(item, "id")
        if found is None or not isinstance(found[1], yaml.ScalarNode):
            continue
        ident = str(found[1].value).strip()
        if not ident or found[1].tag == _NULL_TAG:
            continue
        if ident in first_line:
            message = (
                f"duplicate {what} id '{ident}' (already used on line {first_line[ident]}); "
                f"each {what} needs its own id"
            )
            problems.append(
                Problem(source, _line(found[0]), message, _field_path((*loc, index, "id")))
            )
        else:
            first_line[ident] = _line(found[0])
    return problems


def _validation_problems(exc: ValidationError, root: yaml.Node, source: str) -> list[Problem]:
    problems = []
    for error in exc.errors():
        if error["type"] == "value_error" and "duplicate" in error["msg"]:
            continue  # reported, all of them and with lines, by _duplicate_ids
        loc, owner, tagged = _clean_loc(tuple(error["loc"]))
        message = _message(error, loc, owner, tagged)
        problems.append(Problem(source, _locate(root, loc), message, _field_path(loc)))
    return problems


def _clean_loc(loc: Loc) -> tuple[Loc, type[BaseModel], bool]:
    """Drop pydantic's union-member tags ('int', 'str' after `version`).

    Returns the cleaned location, the model that owns its last field (for
    "did you mean" suggestions) and whether tags were dropped.
    """
    model: type[BaseModel] | None = Rubric
    owner: type[BaseModel] = Rubric
    out: list[str | int] = []
    tagged = False
    for part in loc:
        if isinstance(part, int):
            out.append(part)
        elif model is None:
            tagged = True
        else:
            out.append(part)
            owner = model
            model = _CHILD_MODEL.get((model, part))
    return tuple(out), owner, tagged


def _message(error: ErrorDetails, loc: Loc, owner: type[BaseModel], tagged: bool) -> str:
    """A teacher-readable sentence for one pydantic error."""
    kind = error["type"]
    name = _name(loc)
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_field(str(loc[-1]), owner)
    if kind == "missing":
        return f"missing required field '{name}'" + _missing_hint(name)
    if tagged:
        return f"{name} must be a number or a short text, not {_describe(value)}"
    if kind == "string_too_short" or (kind == "string_type" and value is None):
        return f"{name} must not be empty"
    if kind == "string_type":
        return f"{name} must be text, not {_describe(value)}"
    if kind == "too_short":
        return f"{name} must not be empty" + _missing_hint(name)
    if kind == "greater_than":
        return f"{name} must be greater than {_num(ctx.get('gt'))}"
    if kind == "greater_than_equal":
        return f"{name} must be at least {_num(ctx.get('ge'))}"
    if kind == "less_than_equal":
        return f"{name} must be at most {_num(ctx.get('le'))}" + _range_hint(name)
    if kind == "less_than":
        return f"{name} must be less than {_num(ctx.get('lt'))}"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
        return f"{name} must be a number, not {_describe(value)}"
    if kind == "list_type":
        return f"{name} must be a list (lines starting with '- '), not {_describe(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{name} must be a mapping of fields ('field: value' lines), not {_describe(value)}"
    return f"{name}: {error['msg']}"


def _name(loc: Loc) -> str:
    """The field a message talks about: the last named part, with any list index."""
    for i in range(len(loc) - 1, -1, -1):
        if isinstance(loc[i], str):
            return _field_path(loc[i:]) or "rubric"
    return "rubric"


def _unknown_field(name: str, owner: type[BaseModel]) -> str:
    allowed = list(owner.model_fields)
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown field '{name}' (did you mean '{close[0]}'?)"
    return f"unknown field '{name}' (allowed: {', '.join(allowed)})"


def _missing_hint(name: str) -> str:
    if name == "key_points":
        return " (every card needs at least one key point)"
    if name == "cards":
        return " (a rubric needs at least one card)"
    return ""


def _range_hint(name: str) -> str:
    return " (it is taken off the 0..1 score)" if name == "penalty" else ""


def _num(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"'{shown}'"
    return repr(value)


def _sorted_unique(problems: list[Problem]) -> list[Problem]:
    """By line (file order), without repeats; stable so equal lines keep their order."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line is None, p.line or 0))


# ---------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------

_HEADER = (
    "# examiner rubric: edit key points, weights and misconceptions freely,\n"
    "# then validate with `examiner rubric check FILE`.\n"
)


class _RubricDumper(yaml.SafeDumper):
    """SafeDumper with indented lists and `|` blocks for multi-line text."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key: easier to read and to edit.
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar(_STR_TAG, value, style=style)


_RubricDumper.add_representer(str, _represent_str)


def rubric_to_yaml(rubric: Rubric) -> str:
    """The YAML text `save_rubric` writes (with a short header comment)."""
    data = _compact(rubric)
    body = yaml.dump(
        data,
        Dumper=_RubricDumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return _HEADER + body


def save_rubric(rubric: Rubric, path: str | Path) -> None:
    """Write a readable rubric file; `load_rubric` gives back an equal Rubric."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(rubric_to_yaml(rubric), encoding="utf-8")


def _compact(rubric: Rubric) -> dict[str, Any]:
    """Plain data without empty lists and default corrections, to keep files short."""
    data = rubric.model_dump(mode="json")
    for card in data["cards"]:
        for point in card["key_points"]:
            _drop_if(point, "alternatives", [])
        for item in card["misconceptions"]:
            _drop_if(item, "alternatives", [])
            _drop_if(item, "correction", "")
        _drop_if(card, "misconceptions", [])
    return dict(data)


def _drop_if(mapping: dict[str, Any], key: str, default: object) -> None:
    if mapping.get(key) == default:
        mapping.pop(key, None)


# ---------------------------------------------------------------------------
# Drafting a rubric from a deck
# ---------------------------------------------------------------------------

MAX_KEY_POINTS = 5
# Sentences with fewer content words than this are folded into a neighbour:
# "= overfitting" or "Sizes are equal" belong with the sentence they follow.
MIN_CONTENT_WORDS = 3

_BULLET = re.compile(r"^\s*(?:[-*•·▪–]|\d+[.)]|[a-z][.)])\s+", re.IGNORECASE)
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
    is_bullet = bool(_BULLET.match(line))
    body = _BULLET.sub("", line).strip()
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
    if _BULLET.match(line) or _ARROW.search(line) or line[-1] in ".!?:;,)":
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
