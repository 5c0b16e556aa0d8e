"""Build, load, save and check rubrics (the YAML files in `rubrics/`).

`yaml_io` reads and writes rubric files, `check` reports every problem of one
with its line and field path, and `draft` builds a first rubric from a deck.

Everything here is pure apart from reading and writing files in
`load_rubric`, `check_rubric` and `save_rubric`.
"""

from __future__ import annotations

from .draft import MAX_KEY_POINTS, build_rubric, draft_key_points
from .yaml_io import (
    check_rubric,
    check_rubric_text,
    load_rubric,
    parse_rubric,
    rubric_to_yaml,
    save_rubric,
)

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
