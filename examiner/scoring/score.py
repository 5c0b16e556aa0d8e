"""What every scorer shares: turning measured similarities into a Grade.

A scorer's only job is to measure (`Evidence`: how close each segment of an
answer is to each phrasing of each key point and misconception). Everything
after that, coverage, penalties, flags, confidence and feedback, is decided
here once, so the embedding and lexical scorers grade by the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ..calibration import Calibration
from ..cues import contradicts, injection_segments, is_keyword_list, is_non_answer
from ..embedder import TokenVectors
from ..features import answer_features
from ..feedback import write_feedback
from ..models import (
    Flag,
    Grade,
    KeyPointResult,
    MisconceptionResult,
    RubricCard,
    ScorerName,
    Status,
    Submission,
    label_for,
)
from ..similarity import alignment
from ..text import content_words, split_segments

__all__ = [
    "Assessment",
    "Evidence",
    "Scorer",
    "assess",
    "card_phrasings",
    "ruled_score",
    "segments_of",
    "status_for",
    "trivial_grade",
]

COVERED_AT = 0.7
PARTIAL_AT = 0.3


def status_for(coverage: float) -> Status:
    if coverage >= COVERED_AT:
        return "covered"
    if coverage >= PARTIAL_AT:
        return "partial"
    return "missing"


@dataclass(frozen=True)
class Assessment:
    """A grade with the features its score came from (for calibration)."""

    grade: Grade
    features: dict[str, float] | None
    # What a similarity head reads (embedding scorer only; None for a possible injection).
    pair: np.ndarray | None = None


class Scorer(Protocol):
    """Grades a batch of (card, submission) pairs in one go."""

    name: ScorerName
    model: str
    calibration: Calibration

    def assess_batch(self, items: Sequence[tuple[RubricCard, Submission]]) -> list[Assessment]:
        """Grades with the features behind them (None for answers with nothing to measure)."""
        ...

    def score_batch(self, items: Sequence[tuple[RubricCard, Submission]]) -> list[Grade]: ...


def segments_of(answer: str) -> tuple[list[str], bool]:
    """Segments to score, and whether the last one is the whole answer.

    The whole answer catches points a student spreads over two sentences; it
    is added only when it is not already one of the segments.
    """
    segments = split_segments(answer)
    whole = " ".join(answer.split())
    if len(segments) > 1 and whole not in segments:
        return [*segments, whole], True
    return segments, False


def card_phrasings(card: RubricCard) -> tuple[list[str], list[str]]:
    """All phrasings of a card's key points, then of its misconceptions, in rubric order.

    `Evidence` columns follow this order; `assess` maps them back to their owner.
    """
    kp_texts = [text for point in card.key_points for text in point.phrasings]
    mis_texts = [text for wrong in card.misconceptions for text in wrong.phrasings]
    return kp_texts, mis_texts


@dataclass
class Evidence:
    """Similarities measured for one answer; rows are segments, columns phrasings."""

    segments: list[str]
    kp_sims: NDArray[np.float32]
    mis_sims: NDArray[np.float32]
    ref_sims: NDArray[np.float32]
    question_sims: NDArray[np.float32]
    has_whole: bool = False
    # Token vectors per segment and of the reference(s), where the scorer has them.
    tokens: list[TokenVectors] | None = None
    ref_tokens: list[TokenVectors] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)
    # `similarity.pair_features` of the whole answer, where the scorer has vectors.
    pair: np.ndarray | None = None


def _empty_grade(
    card: RubricCard, sub: Submission, scorer: ScorerName, flags: list[Flag], note: str
) -> Grade:
    results = [
        KeyPointResult(
            key_point_id=p.id, text=p.text, coverage=0.0, status="missing", similarity=0.0
        )
        for p in card.key_points
    ]
    return Grade(
        student_id=sub.student_id,
        card_id=card.id,
        answer=sub.answer,
        score=0.0,
        points=0.0,
        max_points=card.max_points,
        label="incorrect",
        key_points=results,
        feedback=write_feedback(card, results, []),
        scorer=scorer,
        confidence=1.0,
        flags=flags,
        notes=[note],
        row=sub.row,
        answer_id=sub.answer_id,
    )


def trivial_grade(card: RubricCard, sub: Submission, scorer: ScorerName) -> Grade | None:
    """The grade of an answer with nothing to measure, or None if there is something."""
    if not sub.answer.strip() or not segments_of(sub.answer)[0]:
        return _empty_grade(card, sub, scorer, [Flag.EMPTY], "empty: no answer given")
    if is_non_answer(sub.answer):
        return _empty_grade(card, sub, scorer, [], "the answer says the student does not know")
    return None


def assess(
    card: RubricCard,
    sub: Submission,
    ev: Evidence,
    cal: Calibration,
    scorer: ScorerName,
) -> Assessment:
    """Apply the rubric's rules to measured similarities."""
    flags: list[Flag] = []
    notes: list[str] = []
    n_seg = len(ev.segments)
    usable = np.ones(n_seg, dtype=bool)
    whole = n_seg - 1 if ev.has_whole else None
    real = [i for i in range(n_seg) if i != whole]

    def set_aside(i: int, with_parts: bool = False) -> None:
        """Take a segment out of scoring, with every segment that contains it (or its parts)."""
        for j in range(n_seg):
            if ev.segments[i] in ev.segments[j] or (
                with_parts and ev.segments[j] in ev.segments[i]
            ):
                usable[j] = False

    injected = injection_segments(ev.segments[: whole if whole is not None else n_seg])
    if injected:
        # Words addressed to the grader earn nothing, nor does any piece of
        # them, and the whole answer that contains them is no longer a fair
        # unit to match.
        for i in injected:
            set_aside(i, with_parts=True)
        flags.append(Flag.POSSIBLE_INJECTION)
        notes.append("possible_injection: the answer addresses the grader; that text earns nothing")

    kp_texts, mis_texts = card_phrasings(card)
    kp_owner = _owners([len(p.phrasings) for p in card.key_points])
    mis_owner = _owners([len(m.phrasings) for m in card.misconceptions])
    contra = _contradictions(ev, kp_texts, real, cal.coverage_knots[0][0])
    # What each segment supports once the statements it contradicts are set aside.
    consistent = np.where(contra, -1.0, ev.kp_sims)
    best_kp_per_seg = consistent.max(axis=1) if consistent.size else np.zeros(n_seg)

    found: list[MisconceptionResult] = []
    for m, wrong in enumerate(card.misconceptions):
        # A segment states the misconception if it is close to it and closer to
        # it than to anything true it could be saying; take the clearest one.
        cols = mis_owner == m
        best_margin, best_seg = -1.0, -1
        for i in real:
            if not usable[i]:
                continue
            sims = np.where(cols, ev.mis_sims[i], -1.0)
            j = int(np.argmax(sims))
            sim = float(sims[j])
            if sim < cal.misconception_threshold or contradicts(ev.segments[i], mis_texts[j]):
                continue  # "the output is smaller" does not state "the output is larger"
            margin = sim - float(best_kp_per_seg[i])
            if margin >= cal.misconception_margin and margin > best_margin:
                best_margin, best_seg = margin, i
        if best_seg < 0:
            continue
        found.append(
            MisconceptionResult(
                misconception_id=wrong.id,
                text=wrong.text,
                penalty=wrong.penalty,
                evidence=ev.segments[best_seg],
                correction=wrong.correction,
            )
        )
        # A false statement cannot also earn the point it gets wrong.
        set_aside(best_seg)

    keyword_list = is_keyword_list(sub.answer)
    if keyword_list:
        flags.append(Flag.KEYWORD_LIST)
        notes.append("keyword_list: terms without statements earn limited credit")

    results: list[KeyPointResult] = []
    contradiction = False
    for k, point in enumerate(card.key_points):
        cols = np.flatnonzero(kp_owner == k)
        ok = np.where(usable[:, None], consistent[:, cols], -1.0)
        seg, col = np.unravel_index(int(np.argmax(ok)), ok.shape)
        similarity = float(max(ok[seg, col], 0.0))
        coverage = float(cal.coverage(np.array(similarity)))
        evidence_seg = _evidence_segment(ok, real, int(seg), whole)
        against = np.where(usable[:, None] & contra[:, cols], ev.kp_sims[:, cols], -1.0)
        a_seg = int(np.unravel_index(int(np.argmax(against)), against.shape)[0])
        a_sim = float(against.max())
        a_cov = float(cal.coverage(np.array(a_sim))) * cal.contradiction_factor
        if a_sim > 0 and float(cal.coverage(np.array(a_sim))) >= PARTIAL_AT and a_cov > coverage:
            # The closest statement says the opposite: half credit at most, and a flag.
            contradiction = True
            similarity, coverage = a_sim, a_cov
            evidence_seg = _evidence_segment(against, real, a_seg, whole)
            notes.append(
                f"possible_contradiction: {evidence_seg_text(ev, evidence_seg)!r} "
                f"may say the opposite of key point {point.id!r}"
            )
        evidence = ev.segments[evidence_seg] if coverage >= PARTIAL_AT else ""
        if keyword_list:
            coverage = min(coverage, cal.keyword_list_cap)
        results.append(
            KeyPointResult(
                key_point_id=point.id,
                text=point.text,
                coverage=round(coverage, 4),
                status=status_for(coverage),
                similarity=round(similarity, 4),
                evidence=evidence,
            )
        )
    if contradiction:
        flags.append(Flag.POSSIBLE_CONTRADICTION)

    counted = [i for i in range(n_seg) if usable[i]]
    ref_sim = float(ev.ref_sims[counted].max()) if counted else 0.0
    question_sim = float(ev.question_sims[counted].max()) if counted else 0.0
    answer_words = [w for i in counted for w in content_words(ev.segments[i])]
    aligned = _aligned(card, ev, counted)
    features = answer_features(
        card, results, answer_words, ref_sim, question_sim, contradiction, aligned
    )
    relevance = max(
        float(ev.kp_sims.max(initial=0.0)),
        float(ev.ref_sims.max(initial=0.0)),
        float(ev.question_sims.max(initial=0.0)),
    )
    if relevance < cal.off_topic_threshold and not injected:
        flags.append(Flag.OFF_TOPIC)
        notes.append(f"off_topic: best similarity to the card is {relevance:.2f}")
    # The whole answer's vector carries any text addressed to the grader: no head reads it then.
    pair = None if injected else ev.pair
    raw = cal.score_model.predict(features, pair) if cal.score_model else features["coverage"]
    # Nothing left to grade once the grader-directed text is set aside: nothing earned.
    score = ruled_score(raw, features, found, flags, cal) if counted else 0.0

    confidence = _confidence(card, results, score, cal, flags)
    if confidence < cal.review_below or any(
        f in flags for f in (Flag.POSSIBLE_INJECTION, Flag.POSSIBLE_CONTRADICTION)
    ):
        flags.append(Flag.NEEDS_REVIEW)

    grade = Grade(
        student_id=sub.student_id,
        card_id=card.id,
        answer=sub.answer,
        score=round(score, 4),
        points=round(score * card.max_points, 4),
        max_points=card.max_points,
        label=label_for(score),
        key_points=results,
        misconceptions=found,
        feedback=write_feedback(card, results, found),
        scorer=scorer,
        confidence=round(confidence, 4),
        flags=flags,
        notes=notes,
        models=dict(ev.models),
        row=sub.row,
        answer_id=sub.answer_id,
    )
    return Assessment(grade, features, pair)


def ruled_score(
    raw: float,
    features: dict[str, float],
    found: list[MisconceptionResult],
    flags: list[Flag],
    cal: Calibration,
) -> float:
    """The rubric's rules on top of whatever produced the raw score.

    Misconceptions cost their penalty; a list of terms earns half, and never
    more than the cap; an answer that addresses nothing on the card earns no
    more than its key-point coverage, whatever other signals say. (A statement
    of a key point's opposite is not penalised here: the cue is too noisy on
    open text to take credit away; it halves that point's coverage, and the
    grade is flagged for review.)
    """
    score = raw - sum(m.penalty for m in found)
    if Flag.KEYWORD_LIST in flags:
        score = min(score / 2, cal.keyword_list_cap)
    if Flag.OFF_TOPIC in flags:
        score = min(score, features["coverage"])
    return float(min(1.0, max(0.0, score)))


def _aligned(card: RubricCard, ev: Evidence, counted: list[int]) -> tuple[float, float] | None:
    """Token alignment of the counted part of the answer with the reference."""
    if ev.tokens is None:
        return None
    # The largest counted parts: clauses inside a counted sentence add nothing.
    parts = [
        i for i in counted if not any(j != i and ev.segments[i] in ev.segments[j] for j in counted)
    ]
    skip = frozenset(content_words(card.question))
    return alignment([ev.tokens[i] for i in parts], ev.ref_tokens, skip)


def evidence_seg_text(ev: Evidence, i: int) -> str:
    text = ev.segments[i]
    return text if len(text) <= 80 else text[:77] + "..."


def _contradictions(
    ev: Evidence, kp_texts: list[str], real: list[int], floor: float
) -> NDArray[np.bool_]:
    """Which (segment, key point phrasing) pairs say opposite things.

    Only pairs similar enough to earn credit are checked; the whole-answer
    segment takes the verdict of its parts, since a cue inside one sentence
    must not be diluted by the others.
    """
    contra = np.zeros(ev.kp_sims.shape, dtype=bool)
    for i in real:
        for j in np.flatnonzero(ev.kp_sims[i] >= floor):
            contra[i, j] = contradicts(ev.segments[i], kp_texts[j])
    if ev.has_whole:
        contra[-1] = contra[real].any(axis=0)
    return contra


def _owners(counts: list[int]) -> NDArray[np.int64]:
    return np.repeat(np.arange(len(counts)), counts)


def _evidence_segment(
    sims: NDArray[np.float64], real: list[int], seg: int, whole: int | None
) -> int:
    """Quote a real segment, not the whole answer, when the whole answer matched best."""
    if seg != whole or not real:
        return int(seg)
    return max(real, key=lambda i: float(sims[i].max()))


def _confidence(
    card: RubricCard,
    results: list[KeyPointResult],
    score: float,
    cal: Calibration,
    flags: list[Flag],
) -> float:
    """How far the decisions sit from their thresholds, lowered by doubtful cues.

    A key point whose similarity is right at the partial threshold could go
    either way; a score right at a label boundary could too.
    """
    pivot = cal.partial_similarity()
    xs = [x for x, _ in cal.coverage_knots]
    span = max(xs[-1] - xs[0], 1e-6) / 2
    certainty = [min(1.0, abs(r.similarity - pivot) / span) for r in results]
    weights = [p.weight for p in card.key_points]
    point_conf = float(np.average(certainty, weights=weights))
    boundary = min(abs(score - 0.3), abs(score - 0.8))
    label_conf = min(1.0, boundary / 0.1)
    confidence = 0.6 * point_conf + 0.4 * label_conf
    if Flag.POSSIBLE_CONTRADICTION in flags:
        confidence *= 0.6
    if Flag.POSSIBLE_INJECTION in flags:
        confidence *= 0.5
    if Flag.KEYWORD_LIST in flags:
        confidence *= 0.7
    return float(min(1.0, max(0.0, confidence)))
