"""Checking a verdict against the answer, and computing the score from it.

Nothing the model says is taken on trust:

- A quote counts only if it occurs in the answer (after Unicode, whitespace
  and case folding; surrounding quote marks and edge punctuation ignored; an
  ellipsis may join parts that occur in order) and has a content word. The
  evidence kept is the answer's own text, not the model's copy.
- A key point marked covered or partial whose quote does not verify is
  downgraded: to partial if the embedding stage found it at least partly,
  else to missing; the grade is flagged `unverified_quote`.
- A verdict most of whose quotes are not in the answer is not evidence at
  all (`Checked.baseless`): the embedding grade stands, flagged for review.
- A rubric misconception counts (and costs its penalty) only with a verified
  quote. Other false statements are reported, never penalised.
- The score is examiner's: covered 1, partial 0.5, missing 0 per key point,
  weighted by the rubric, minus the penalties of verified misconceptions,
  clipped to 0..1. The model's `overall_score` is recorded, never used.
- Injection (flagged by the embedding stage, or reported by the judge):
  quotes of text addressed to the grader do not verify, and the score can
  never exceed max(embedding score, the score of the verified key points
  alone), a key point counting there only if its quote verified and shares
  content words with the key point itself.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ..models import (
    Flag,
    Grade,
    KeyPointResult,
    MisconceptionResult,
    RubricCard,
    Status,
)
from ..scoring.cues import is_injection
from ..text import content_words, split_segments
from .verdict import KeyPointVerdict, Verdict

__all__ = ["CREDIT", "Checked", "check_verdict", "find_quote", "normalise"]

CREDIT: dict[Status, float] = {"covered": 1.0, "partial": 0.5, "missing": 0.0}

_QUOTE_MARKS = "\"'`“”‘’«»„"
_EDGE = _QUOTE_MARKS + " .,;:!?…-–—()[]"
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.+|…|\[\.\.\.\]|\(\.\.\.\))\s*")
_TOKEN = re.compile(r"\S+")
_FOLD = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'"})


def normalise(text: str) -> str:
    """Unicode NFKC, curly quotes straightened, case folded, whitespace collapsed."""
    if text.isascii():
        return " ".join(text.lower().split())
    return _folded(text)[0]


def _folded(text: str) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, its index in `text`."""
    if text.isascii():
        # Fast path: folding keeps every character but whitespace runs.
        out_ascii: list[str] = []
        index_ascii: list[int] = []
        for match in _TOKEN.finditer(text):
            if out_ascii:
                out_ascii.append(" ")
                index_ascii.append(match.start() - 1)
            out_ascii.append(match.group().lower())
            index_ascii.extend(range(match.start(), match.end()))
        return "".join(out_ascii), index_ascii
    out: list[str] = []
    index: list[int] = []
    space = True  # drop leading whitespace
    for i, ch in enumerate(text):
        if ch.isspace():
            if not space:
                out.append(" ")
                index.append(i)
            space = True
            continue
        space = False
        for c in unicodedata.normalize("NFKC", ch).translate(_FOLD).casefold():
            out.append(c)
            index.append(i)
    if out and out[-1] == " ":
        out.pop()
        index.pop()
    return "".join(out), index


def find_quote(quote: str, answer: str) -> str | None:
    """The passage of `answer` that `quote` copies, verbatim from the answer; None if absent.

    Parts joined by an ellipsis must each occur, in order; the passage then
    runs from the first part to the last.
    """
    return _Finder(answer).find(quote)


class _Finder:
    """Quote lookup in one answer, folded once."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.folded, self.index = _folded(answer)

    def find(self, quote: str) -> str | None:
        parts = [p.strip(_EDGE) for p in _ELLIPSIS.split(quote)]
        parts = [p for p in parts if p]
        if not parts or not content_words(" ".join(parts)):
            return None
        start = end = None
        pos = 0
        for part in parts:
            needle = normalise(part)
            at = self.folded.find(needle, pos)
            if at < 0:
                return None
            if start is None:
                start = at
            pos = end = at + len(needle)
        assert start is not None and end is not None
        return self.answer[self.index[start] : self.index[end - 1] + 1]


@dataclass
class Checked:
    """A verdict after verification, with examiner's own score."""

    key_points: list[KeyPointResult]
    misconceptions: list[MisconceptionResult]
    other_errors: list[tuple[str, str]]
    score: float
    supported_score: float
    injection: bool
    injection_reported: bool
    flags: list[Flag] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Quotes the verdict rests on (credited key points, reported misconceptions)
    # and how many of them are not in the answer.
    quotes_claimed: int = 0
    quotes_failed: int = 0

    @property
    def unverified(self) -> bool:
        return Flag.UNVERIFIED_QUOTE in self.flags

    @property
    def baseless(self) -> bool:
        """Most of the verdict's quotes are not in the answer: it did not read the answer.

        A small model copies the rubric or rewrites the answer instead of
        quoting it; downgrading point by point would then grade the rubric.
        """
        return self.quotes_failed * 2 > self.quotes_claimed > 0


def check_verdict(card: RubricCard, answer: str, verdict: Verdict, first: Grade) -> Checked:
    """Verify every quote of `verdict` in `answer` and compute the score from what holds.

    `first` is the embedding stage's grade of the same answer: it decides how
    far an unverified key point falls, and bounds the score under injection.
    """
    injection = verdict.injection_attempt or Flag.POSSIBLE_INJECTION in first.flags
    quotes = _Quotes(answer, injection)
    notes: list[str] = []
    results, backed, points_failed = _check_key_points(card, verdict, first, quotes, notes)
    found_wrong, wrongs_failed = _check_misconceptions(card, verdict, quotes, notes)
    claimed = sum(v.status != "missing" for v in verdict.key_points) + len(verdict.misconceptions)
    others: list[tuple[str, str]] = []
    for other in verdict.other_errors:
        quote = quotes.verified(other.quote)
        if quote is not None:
            others.append((quote, other.correction))

    credit = [CREDIT[r.status] for r in results]
    # For the injection bound: only key points the answer's own words back.
    supported = [c if b else 0.0 for c, b in zip(credit, backed, strict=True)]
    weights = [p.weight for p in card.key_points]
    penalty = sum(m.penalty for m in found_wrong)
    score = _clip(_weighted(credit, weights) - penalty)
    supported_score = _clip(_weighted(supported, weights) - penalty)
    failed = points_failed + wrongs_failed
    flags = [Flag.UNVERIFIED_QUOTE] if failed else []
    return Checked(
        key_points=results,
        misconceptions=found_wrong,
        other_errors=others,
        score=round(score, 4),
        supported_score=round(supported_score, 4),
        injection=injection,
        injection_reported=verdict.injection_attempt,
        flags=flags,
        notes=notes,
        quotes_claimed=claimed,
        quotes_failed=failed,
    )


class _Quotes:
    """What counts as a verified quote in one answer."""

    def __init__(self, answer: str, injection: bool) -> None:
        self.finder = _Finder(answer)
        self.injection = injection
        self.injected = _injected_passages(answer) if injection else []

    def verified(self, quote: str) -> str | None:
        """The answer's own text that `quote` copies; None if absent or addressed to the grader."""
        found = self.finder.find(quote)
        if found is None:
            return None
        if self.injection and (
            is_injection(found) or any(_overlaps(found, p) for p in self.injected)
        ):
            return None  # words addressed to the grader are not evidence
        return found


def _check_key_points(
    card: RubricCard, verdict: Verdict, first: Grade, quotes: _Quotes, notes: list[str]
) -> tuple[list[KeyPointResult], list[bool], int]:
    """Each key point as the verified verdict has it, and how many quotes failed.

    Also, per key point, whether its verified quote shares words with the
    point itself: the answer's own words back it (see the injection bound).
    """
    by_id = {v.key_point_id: v for v in verdict.key_points}
    earlier = {r.key_point_id: r for r in first.key_points}
    results: list[KeyPointResult] = []
    backed: list[bool] = []
    failed = 0
    for point in card.key_points:
        v = by_id.get(point.id)
        before = earlier.get(point.id)
        status: Status = v.status if v else "missing"
        evidence = ""
        quoted = False
        if v is not None and status != "missing":
            found = quotes.verified(v.quote)
            if found is None:
                failed += 1
                status, evidence = _downgraded(point.id, v, before, notes)
            else:
                evidence, quoted = found, True
        results.append(
            KeyPointResult(
                key_point_id=point.id,
                text=point.text,
                coverage=CREDIT[status],
                status=status,
                similarity=before.similarity if before else 0.0,
                evidence=evidence,
                reason=v.reason if v else "",
            )
        )
        backed.append(quoted and _shares_words(evidence, point.phrasings))
    return results, backed, failed


def _downgraded(
    point_id: str, v: KeyPointVerdict, before: KeyPointResult | None, notes: list[str]
) -> tuple[Status, str]:
    """The status and evidence of a key point whose quote did not verify.

    It falls to partial if the embedding stage found it at least partly (its
    evidence then stands), else to missing.
    """
    before_status: Status = before.status if before else "missing"
    fallen: Status = "partial" if before_status != "missing" else "missing"
    notes.append(
        f"unverified_quote: key point {point_id!r} was {v.status} by the judge, "
        f"but its quote {_short(v.quote)!r} is not in the answer: now {fallen}"
    )
    evidence = before.evidence if before and fallen != "missing" else ""
    return fallen, evidence


def _check_misconceptions(
    card: RubricCard, verdict: Verdict, quotes: _Quotes, notes: list[str]
) -> tuple[list[MisconceptionResult], int]:
    """The rubric misconceptions reported with a verified quote; how many quotes failed."""
    found_wrong: list[MisconceptionResult] = []
    seen: set[str] = set()
    failed = 0
    wrongs = {m.id: m for m in card.misconceptions}
    for mv in verdict.misconceptions:
        wrong = wrongs.get(mv.misconception_id)
        if wrong is None or wrong.id in seen:
            continue
        quote = quotes.verified(mv.quote)
        if quote is None:
            failed += 1
            notes.append(
                f"unverified_quote: misconception {wrong.id!r} was reported with a quote "
                f"that is not in the answer ({_short(mv.quote)!r}): not counted"
            )
            continue
        seen.add(wrong.id)
        found_wrong.append(
            MisconceptionResult(
                misconception_id=wrong.id,
                text=wrong.text,
                penalty=wrong.penalty,
                evidence=quote,
                correction=wrong.correction,
            )
        )
    return found_wrong, failed


def _weighted(values: list[float], weights: list[float]) -> float:
    total = sum(weights)
    return sum(v * w for v, w in zip(values, weights, strict=True)) / total if total else 0.0


def _clip(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def _injected_passages(answer: str) -> list[str]:
    return [seg for seg in split_segments(answer) if is_injection(seg)]


def _overlaps(a: str, b: str) -> bool:
    na, nb = normalise(a), normalise(b)
    return bool(na and nb) and (na in nb or nb in na)


def _shares_words(evidence: str, phrasings: list[str]) -> bool:
    """At least a third of some phrasing's content words occur in the evidence."""
    said = set(content_words(evidence))
    if not said:
        return False
    for text in phrasings:
        wanted = set(content_words(text))
        if wanted and len(said & wanted) * 3 >= len(wanted):
            return True
    return False


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
