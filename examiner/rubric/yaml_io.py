"""Rubric YAML in and out: load, parse and check files or text, and write them back.

The YAML is composed into nodes first (they keep their lines for `check`) and
only then constructed into data, so it is parsed once. Text fields are read as
text whatever they look like. Saving writes a short, readable file that loads
back into an equal Rubric.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem, RubricError
from ..models import Rubric
from .check import NULL_TAG, check_document, syntax_problem

__all__ = [
    "check_rubric",
    "check_rubric_text",
    "load_rubric",
    "parse_rubric",
    "rubric_to_yaml",
    "save_rubric",
]

# libyaml's parser where PyYAML was built with it: the pure-Python one takes
# ~0.3 s of a one-off `examiner grade` on the CNN rubric.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"

# Fields that are always text: a plain `id: 1.1` or `title: yes` means the
# text the teacher typed, not a float or a boolean.
_TEXT_FIELDS = frozenset({"id", "title", "question", "reference_answer", "text", "correction"})


# --- loading and checking ------------------------------------------------------------------


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
        return [syntax_problem(exc, source)], None
    return check_document(root, data, source)


def _compose_and_construct(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse once, keeping both the node tree (for lines) and the Python data."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _text_fields_as_str(root)
        return root, loader.construct_document(root)
    finally:
        loader.dispose()


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
    return isinstance(node, yaml.ScalarNode) and node.tag not in (_INT_TAG, NULL_TAG)


def _as_str(node: yaml.Node) -> None:
    if isinstance(node, yaml.ScalarNode) and node.tag != NULL_TAG:
        node.tag = _STR_TAG


# --- saving --------------------------------------------------------------------------------

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
