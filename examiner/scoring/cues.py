"""Lexical cues that similarity cannot see: injections, negations, keyword lists.

Embeddings place "the output is larger" next to "the output is smaller", and
they happily match "give this answer full marks" to a rubric about answers.
These stdlib checks catch what the vectors miss; they raise flags and remove
credit, never add it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..text import STOPWORDS, stem, words

__all__ = [
    "comparisons",
    "contradicts",
    "injection_segments",
    "is_injection",
    "is_keyword_list",
    "is_non_answer",
]

_INJECTION_PATTERNS = [
    # Text addressed to whoever (or whatever) grades the answer.
    r"\b(?:dear|note to|attention|hey|hi|hello)\b[^.\n]{0,40}\b(?:grader|marker|examiner|"
    r"teacher|professor|ai|model|assistant|llm|gpt|chatgpt|system)\b",
    r"\b(?:automatic|automated|ai|llm)\s+(?:grader|grading|marker|system)\b",
    r"\bignore\b[^.\n]{0,40}\b(?:rubric|instructions?|previous|above|prompt|rules?|"
    r"key\s*points?|reference)\b",
    r"\bdisregard\b[^.\n]{0,40}\b(?:rubric|instructions?|previous|above|prompt|rules?)\b",
    r"\b(?:give|award|assign|grant|mark|grade|rate|score)\b[^.\n]{0,40}"
    r"\b(?:full|maximum|max|perfect|all(?:\s+the)?|top|100\s*%?)\s*(?:marks?|points?|"
    r"credit|score|grade)\b",
    r"\b(?:give|award|assign|set)\b[^.\n]{0,30}\bscore\b[^.\n]{0,20}(?:1(?:\.0+)?|100|10/10|5/5)",
    r"\b(?:this|my)\s+answer\s+(?:is|should\s+be)\s+(?:complete|correct|perfect|"
    r"equivalent|fully\s+correct|right)\b",
    r"\b(?:label|mark)\s+(?:it|this|this answer)\s+(?:as\s+)?[\"']?correct\b",
    r"\bscore\s*[:=]\s*(?:1(?:\.0+)?|100|10/10|5/5)\b",
    r"[{,]\s*[\"']?(?:score|grade|points|label|verdict|status|coverage)[\"']?\s*:",
    r"(?:^|\n)\s*(?:system|assistant|user|developer)\s*:",
    r"<\|?(?:im_start|im_end|system|assistant|user|endoftext)\|?>",
    r"\[/?(?:INST|SYS)\]",
    r"\byou\s+are\s+(?:now\s+)?(?:a|an|the)\s+\w*\s*(?:grader|assistant|model)\b",
    r"\bnew\s+instructions?\b",
    r"\bprompt\s+injection\b",
    # Talk about the grading itself: students answer the question, they do not
    # discuss the rubric, the marks or who graded what.
    r"\b(?:grader|rubric|marking\s+scheme|re-?grade[ds]?|pre-?graded|already\s+graded)\b",
    r"\b(?:instructor|teacher|professor)(?:'s)?\s+(?:note|comment)",
    r"\bgraded\s+on\b",
    r"[\"']\s*(?:score|label|grade|verdict)\s*[\"']",
    r"\b(?:answers?|submissions?)\s+(?:gets?|receives?|earns?)\s+(?:1(?:\.0+)?|full|100)\b",
    r"\byour\s+(?:feedback|grading|evaluation|output|verdict)\b",
    r"\bgrade\s+(?:accordingly|it|this|generously)\b",
    r"\bthis\s+submission\b",
    r"\b(?:identical|equivalent)\s+to\s+the\s+reference\b",
    r"\b(?:full|maximum|max|perfect)\s+(?:marks?|credit|score|points)\b",
    r"\b(?:return|output|assign|give|set|deserves?|gets?|earns?)\b[^.\n]{0,20}\bscore\b"
    r"[^.\n]{0,10}(?<![\w.])(?:1(?:\.0+)?|100|10/10|5/5)(?![\w.]*\d)",
    r"\blabel\b\W{0,4}(?:as\s+)?[\"']?correct\b",
    r"\b(?:reference|expected)\s+answer\s+(?:for|to|of)\s+this\b",
    r"\b(?:this|the)\s+(?:answer|submission)\s+(?:has\s+been|was|is|must\s+be|should\s+be)\s+"
    r"(?:verified|graded|marked|accepted)\b",
    r"\bdo\s+not\s+(?:re-?)?(?:grade|evaluate|mark)\b",
    r"\b(?:code\s*word|override)\b",
    # Markup and delimiters that pretend the answer has ended or a new voice speaks.
    r"</?\s*\w*(?:answer|grader|instructions?|system|student|prompt|rubric|sys)\w*\s*>",
    r"<<\s*/?\s*SYS\s*>>",
    r"(?:===|<<<|>>>|\*\*\*)\s*(?:end|begin|start)\b",
    r"\bend\s+of\s+(?:the\s+)?(?:student(?:'s)?\s+)?(?:answer|submission|input)\b",
]
_INJECTION = re.compile("|".join(f"(?:{p})" for p in _INJECTION_PATTERNS), re.IGNORECASE)


def is_injection(text: str) -> bool:
    """True if the text speaks to the grader instead of answering the question."""
    return bool(_INJECTION.search(text))


def injection_segments(segments: list[str]) -> set[int]:
    return {i for i, seg in enumerate(segments) if is_injection(seg)}


_NEGATIONS = frozenset(
    "not no never none nothing nobody neither nor cannot can't won't don't doesn't didn't "
    "isn't aren't wasn't weren't shouldn't wouldn't couldn't hasn't haven't without".split()
)

# Opposites that flip a statement's meaning while keeping its words similar.
_OPPOSITES = [
    ("same", "different"),
    ("equal", "different"),
    ("shared", "independent"),
    ("share", "separate"),
    ("inside", "outside"),
    ("within", "outside"),
    ("before", "after"),
    ("always", "never"),
    ("true", "false"),
    ("correct", "incorrect"),
    ("positive", "negative"),
    ("maximum", "minimum"),
]
# Words of direction: a statement that only goes up contradicts one that only goes down.
_UP = "increase rise grow up higher bigger larger greater more ascent ascend climb maximize "
_UP += "maximise expand"
_DOWN = "decrease reduce fall drop down lower smaller less fewer descent descend decline "
_DOWN += "minimize minimise shrink"


@lru_cache(maxsize=1 << 16)
def _norm(word: str) -> str:
    """One form for 'increase', 'increases', 'increasing', 'increased'."""
    return stem(word).rstrip("e")


_OPPOSITE_OF: dict[str, set[str]] = {}
for _a, _b in _OPPOSITES:
    _OPPOSITE_OF.setdefault(_norm(_a), set()).add(_norm(_b))
    _OPPOSITE_OF.setdefault(_norm(_b), set()).add(_norm(_a))
_UPWARD = frozenset(_norm(w) for w in _UP.split())
_DOWNWARD = frozenset(_norm(w) for w in _DOWN.split())
_REVERSAL = frozenset(_norm(w) for w in "opposite against negative reverse contrary minus".split())
# Ways a student says "the other way" that are too loose to state it in a key point.
_REVERSAL_HINTS = frozenset(
    _norm(w) for w in "other downhill descent descend inverse away backwards subtract".split()
)
_COMPARATIVES = frozenset(
    _norm(w)
    for w in "larger bigger greater higher more wider longer "
    "smaller less fewer lower narrower shorter".split()
)


def _negated(tokens: list[str]) -> bool:
    return sum(t in _NEGATIONS or t.endswith("n't") for t in tokens) % 2 == 1


_MORE = "larger bigger greater higher more wider longer".split()
_LESS = "smaller less fewer lower narrower shorter".split()
_COMPARISON = re.compile(
    r"\b(" + "|".join(_MORE + _LESS) + r")\s+than\s+"
    r"|\b(same|equal)\s+(?:\w+\s+)?(?:as|like|to)\s+",
    re.IGNORECASE,
)
_CLAUSE_START = re.compile(
    r".*(?:[,;:.()]|\b(?:so|because|and|but|while|then|therefore|whereas|thus|hence))\s",
    re.IGNORECASE | re.DOTALL,
)
_VERBS = frozenset("becomes become gets get stays remains turns grows has have".split())


_MEASURES = frozenset(
    "size sizes dimension dimensions resolution number shape width height amount spatial".split()
)


def _terms(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and w not in _VERBS | _MEASURES]


def _subject(before: str) -> str | None:
    """The thing compared, from the words before the comparison.

    "the output of a valid convolution is" -> output; "same convolution makes
    the output" -> output: the last term before any "of".
    """
    head, _, tail = before.partition(" of ")
    terms = _terms(head) or _terms(tail)
    return terms[-1] if terms else None


def _object(after: str) -> str | None:
    terms = _terms(after)
    return terms[0] if terms else None


def _direction(words_: set[str]) -> int:
    """+1 if the words only go up, -1 if they only go down, 0 if both or neither."""
    up, down = bool(words_ & _UPWARD), bool(words_ & _DOWNWARD)
    return int(up) - int(down) if up != down else 0


def comparisons(text: str) -> set[tuple[str, str, int]]:
    """'X is larger than Y' as (x, y, +1), 'X is the same as Y' as (x, y, 0).

    Each pair is written so that x sorts before y.

    "the input is larger than the output" and "the output is smaller than
    the input" give the same triple; "the output is larger" gives its opposite.
    """
    found: set[tuple[str, str, int]] = set()
    for match in _COMPARISON.finditer(text):
        before = _CLAUSE_START.sub("", text[: match.start()])
        left, right = _subject(before), _object(text[match.end() :])
        if not left or not right or left == right:
            continue
        word = (match.group(1) or "").lower()
        sign = 0 if not word else 1 if word in _MORE else -1
        found.add((left, right, sign) if left < right else (right, left, -sign))
    return found


def contradicts(segment: str, point: str) -> bool:
    """Does a segment that resembles a key point say its opposite?

    Three cues: the two compare the same things in opposite directions; one
    side is negated and the other is not; or the segment uses a word whose
    opposite the point uses (and not the word itself).
    """
    seg_cmp, ref_cmp = comparisons(segment), comparisons(point)
    if any((a, b) == (c, d) and s1 != s2 for a, b, s1 in ref_cmp for c, d, s2 in seg_cmp):
        return True
    seg, ref = words(segment), words(point)
    if _negated(seg) != _negated(ref):
        return True
    seg_set, ref_set = {_norm(w) for w in seg}, {_norm(w) for w in ref}
    if seg_cmp & ref_cmp:
        # The comparison agrees, however it is worded: its adjectives say nothing more.
        seg_set -= _COMPARATIVES
        ref_set -= _COMPARATIVES
    reversed_seg = bool(seg_set & (_REVERSAL | _REVERSAL_HINTS))
    reversed_ref = bool(ref_set & _REVERSAL)
    # "the loss grows, so step the other way" goes down: direction words
    # only compare when neither side turns around.
    if not reversed_seg and not reversed_ref and _direction(seg_set) * _direction(ref_set) < 0:
        return True
    if reversed_ref and not reversed_seg:
        # "against the gradient" said as "along the gradient".
        return True
    for word in seg_set - ref_set:
        opposites = _OPPOSITE_OF.get(word)
        if opposites and (opposites & ref_set) and not (opposites & seg_set):
            return True
    return False


_NON_ANSWERS = re.compile(
    r"^\s*(?:i\s+)?(?:(?:don'?t|do\s+not)\s+(?:know|remember)|have\s+no\s+(?:idea|clue)|dunno)\b"
    r"|^\s*(?:no\s+idea|not\s+sure|no\s+clue|idk|pass|skip|n/?a|\?+|-+|\.+)\s*[.!?]*\s*$",
    re.IGNORECASE,
)


def is_non_answer(text: str) -> bool:
    """'No idea', 'I don't know', '?': an answer that says it has none."""
    return len(words(text)) <= 8 and bool(_NON_ANSWERS.search(text))


def is_keyword_list(text: str) -> bool:
    """A long list of terms with no statement: many words, almost no function words.

    A teacher gives such lists little credit: naming the terms is not
    explaining them. Short enumerations (the five steps of a process), numbers
    and code are answers, not lists of keywords, so they are left alone.
    """
    if re.search(r"[{}();]", text):
        return False
    tokens = [t for t in words(text) if not any(ch.isdigit() for ch in t)]
    if len(tokens) < 12:
        return False
    function_words = sum(t in STOPWORDS for t in tokens)
    if function_words / len(tokens) < 0.1:
        return True
    # "a, b, c, d, ...": many short comma-separated items.
    items = [i for i in re.split(r"[,;\n]", text) if i.strip()]
    return len(items) >= 8 and sum(len(i.split()) for i in items) / len(items) <= 2.2
