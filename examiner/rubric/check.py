"""Check a composed rubric YAML document, reporting every problem with its line.

A rubric is edited by hand by teachers, so checking it is about the person
fixing it: every problem is reported at once, each with the file, the line of
the offending YAML node and the field path (`cards[3].key_points[1].weight`,
indices 0-based as in the file's lists), in words a teacher can act on.

Lines come from the YAML node tree (nodes keep their start marks): each
pydantic error location is mapped back onto it. Duplicate ids are found by
walking the nodes ourselves, because pydantic stops at the first duplicate and
does not know lines.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ..errors import Problem
from ..models import KeyPoint, Misconception, Rubric, RubricCard

__all__ = ["NULL_TAG", "check_document", "syntax_problem"]

Loc = tuple[str | int, ...]

NULL_TAG = "tag:yaml.org,2002:null"

# Which model a list field holds, to know the allowed fields at each level.
_CHILD_MODEL: dict[tuple[type[BaseModel], str], type[BaseModel]] = {
    (Rubric, "cards"): RubricCard,
    (RubricCard, "key_points"): KeyPoint,
    (RubricCard, "misconceptions"): Misconception,
}

_SYNTAX_HINT = "check the indentation, and quote text that contains ': ' or starts with a symbol"

# Bound errors: the `ctx` key that holds the limit, and how the sentence reads.
_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}
_NUMBER_ERRORS = frozenset(
    {"float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"}
)
_MAPPING_ERRORS = frozenset({"model_type", "model_attributes_type", "dict_type"})


def syntax_problem(exc: yaml.YAMLError, source: str) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    what = getattr(exc, "problem", None) or str(exc)
    return Problem(source, line, f"YAML syntax error: {what} ({_SYNTAX_HINT})")


def check_document(
    root: yaml.Node | None, data: Any, source: str
) -> tuple[list[Problem], Rubric | None]:
    """Check a document's node tree and its data; returns (problems, rubric or None)."""
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


# --- locations -----------------------------------------------------------------------------


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


# --- duplicates ----------------------------------------------------------------------------


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
        if not ident or found[1].tag == NULL_TAG:
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


# --- pydantic errors -----------------------------------------------------------------------


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
    if kind == "extra_forbidden":
        return _unknown_field(str(loc[-1]), owner)
    if kind == "missing":
        return f"missing required field '{name}'" + _missing_hint(name)
    if tagged:
        return f"{name} must be a number or a short text, not {_describe(value)}"
    sentence = _bound_message(kind, name, error.get("ctx") or {})
    if sentence is None:
        sentence = _type_message(kind, name, value)
    return f"{name}: {error['msg']}" if sentence is None else sentence


def _bound_message(kind: str, name: str, ctx: dict[str, Any]) -> str | None:
    """'weight must be greater than 0' for a number outside its range; None for other errors."""
    if kind not in _BOUNDS:
        return None
    key, relation = _BOUNDS[kind]
    # Only an upper bound needs explaining: a penalty above 1 would take off more than all.
    hint = _range_hint(name) if kind == "less_than_equal" else ""
    return f"{name} must be {relation} {_num(ctx.get(key))}{hint}"


def _type_message(kind: str, name: str, value: object) -> str | None:
    """A sentence for an empty value or one of the wrong kind; None for other errors."""
    if kind == "string_too_short" or (kind == "string_type" and value is None):
        return f"{name} must not be empty"
    if kind == "string_type":
        return f"{name} must be text, not {_describe(value)}"
    if kind == "too_short":
        return f"{name} must not be empty" + _missing_hint(name)
    if kind in _NUMBER_ERRORS:
        return f"{name} must be a number, not {_describe(value)}"
    if kind == "list_type":
        return f"{name} must be a list (lines starting with '- '), not {_describe(value)}"
    if kind in _MAPPING_ERRORS:
        return f"{name} must be a mapping of fields ('field: value' lines), not {_describe(value)}"
    return None


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
