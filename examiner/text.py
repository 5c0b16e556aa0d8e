"""Plain-text helpers shared by decks, rubrics and scorers (stdlib only)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "BULLET",
    "STOPWORDS",
    "content_words",
    "fold",
    "slugify",
    "split_segments",
    "split_sentences",
    "stem",
    "words",
]

# A small English stop list: function words that carry no subject matter.
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    etc few for from further had has have having he her here hers herself him himself his
    how i if in into is it its itself just let lets me more most my myself no nor not now
    of off on once only or other our ours ourselves out over own same she should so some
    such than that the their theirs them themselves then there these they this those
    through to too under until up us very was we were what when where which while who
    whom why will with would you your yours yourself yourselves e g eg ie i.e e.g
    one ones thing things way ways like use used using make makes made get gets got
    well really basically actually simply much many may might must shall
    """.split()
)

_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)


def fold(text: str) -> str:
    """Case- and whitespace-folded text, for comparing quotes and questions."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def words(text: str) -> list[str]:
    return [w.replace("’", "'") for w in _WORD.findall(fold(text))]


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light suffix stripper: enough to match 'gradients' with 'gradient'.

    Cached: the cues stem the same few thousand words of a class hundreds of
    thousands of times (a third of a 2,000-answer run's time before).
    """
    w = word.lower()
    if len(w) <= 3:
        return w
    for suffix, repl in (
        ("ization", "ize"),
        ("isation", "ize"),
        ("ational", "ate"),
        ("iveness", "ive"),
        ("fulness", "ful"),
        ("ousness", "ous"),
        ("ingly", ""),
        ("edly", ""),
        ("ities", "ity"),
        ("ness", ""),
        ("ment", ""),
        ("ies", "y"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
        ("ly", ""),
    ):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: len(w) - len(suffix)] + repl
            break
    return w


def content_words(text: str) -> list[str]:
    """Stemmed words that are not stop words, in order."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and not w.isdigit()]


def slugify(text: str, max_words: int = 5) -> str:
    """A short, stable id from a question: its first content words."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    tokens = [w for w in re.findall(r"[a-z0-9]+", ascii_text.lower()) if w not in STOPWORDS]
    return "-".join(tokens[:max_words]) or "card"


# A list item's marker at the start of a line: "- ", "* ", "• ", "1. ", "2) ", "a. ".
BULLET = re.compile(r"^\s*(?:[-*•·▪–]|\d+[.)]|[a-z][.)])\s+", re.IGNORECASE)
# Sentence ends: ., ! or ? followed by space and an upper-case letter, digit or quote.
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[\"'“(\[A-Z0-9])")
_CLAUSE_BREAK = re.compile(
    r"\s*(?:;|:|,\s*(?:so|but|and|because|which|while|whereas|since)\s|"
    r"\s(?:because|whereas|while|so that|therefore|however)\s)\s*",
    re.IGNORECASE,
)


def split_sentences(text: str) -> list[str]:
    """Lines, bullet items and sentences, in order, each stripped and non-empty."""
    out: list[str] = []
    for line in text.splitlines():
        line = BULLET.sub("", line).strip()
        if not line:
            continue
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return out


def split_segments(text: str, min_words: int = 3) -> list[str]:
    """Segments to compare with key points: sentences and their longer clauses.

    Clauses let a key point match part of a long sentence; tiny fragments are
    dropped because a two-word clause matches everything a little.
    """
    segments: list[str] = []
    for sentence in split_sentences(text):
        segments.append(sentence)
        clauses = [c.strip(" ,.") for c in _CLAUSE_BREAK.split(sentence)]
        clauses = [c for c in clauses if len(words(c)) >= min_words]
        if len(clauses) > 1:
            segments.extend(clauses)
    seen: set[str] = set()
    unique = []
    for seg in segments:
        if seg not in seen:
            seen.add(seg)
            unique.append(seg)
    return unique
