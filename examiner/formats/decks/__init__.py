"""Load a flashcard deck from a lesson text, Markdown, CSV/TSV, Anki, JSON or JSONL file.

Every loader collects *all* the problems of a file before raising `DeckError`,
so a teacher fixes a deck in one pass rather than one error per run, and each
problem cites the file and the 1-based line (whole-file problems, such as an
empty file, have no line). Answers are kept verbatim (line breaks, bullets,
indentation); only blank lines around them are dropped, because the answer is
what rubrics are drafted from.

One module per format (`lesson`, `markdown`, `table`, `jsonfile`) turns the
file's lines into entries; `parsing` holds what they share and builds the Deck.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import DeckError
from ...models import Deck
from .jsonfile import parse_json, parse_jsonl
from .lesson import parse_lesson
from .markdown import parse_markdown
from .parsing import Parser, assemble, read_lines
from .table import is_anki_export, parse_csv, parse_tsv

__all__ = ["DECK_EXTENSIONS", "load_deck"]

DECK_EXTENSIONS = (".txt", ".md", ".markdown", ".csv", ".tsv", ".json", ".jsonl")

_PARSERS: dict[str, Parser] = {
    ".txt": parse_lesson,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".csv": parse_csv,
    ".tsv": parse_tsv,
    ".json": parse_json,
    ".jsonl": parse_jsonl,
}


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
    lines = read_lines(file, shown)
    if not any(line.strip() for line in lines):
        raise DeckError.at(shown, None, "file is empty")
    # Anki exports its notes as `.txt` too; its `#separator:` header tells them apart.
    if suffix == ".txt" and is_anki_export(lines):
        parser = parse_tsv
    return assemble(shown, parser(shown, lines))
