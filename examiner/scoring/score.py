"""What every scorer shares: turning measured similarities into a Grade.

A scorer's only job is to measure (`Evidence`: how close each segment of an
answer is to each phrasing of each key point and misconception). Everything
after that, coverage, penalties, flags, confidence and feedback, is decided
here once (with the rules of `rules.py`), so the embedding and lexical
scorers grade by the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ..models import (
    CORRECT_AT,
    KEY_POINT_PARTIAL_AT,
    PARTIAL_AT,
    Flag,
    Grade,
    KeyPoint,
    KeyPointResult,
    RubricCard,
    ScorerName,
    Submission,
    label_for,
    status_for,
)
from ..text import content_words
from .calibration import Calibration
from .checking import Checked, check_answer, no_checker_features
from .evidence import (
    Evidence,
    SegmentUse,
    aligned,
    card_phrasings,
    evidence_seg_text,
    evidence_segment,
    owners,
)
from .features import answer_features
from .feedback import write_feedback
from .rules import (
    Findings,
    contradiction_of,
    contradictions,
    find_misconceptions,
    flag_checked_contradictions,
    flag_keyword_list,
    flag_off_topic,
    flag_other_language,
    ruled_score,
    set_aside_injections,
)

__all__ = ["Assessment", "Scorer", "assess"]


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


@dataclass(frozen=True)
class _Matches:
    """Evidence columns mapped to their owners, with contradicted matches set apart."""

    kp_owner: NDArray[np.int64]
    mis_owner: NDArray[np.int64]
    mis_texts: list[str]
    contra: NDArray[np.bool_]
    # What each segment supports once the statements it contradicts are set aside.
    consistent: NDArray[np.float64]
    best_kp_per_seg: NDArray[np.float64]


def assess(
    card: RubricCard,
    sub: Submission,
    ev: Evidence,
    cal: Calibration,
    scorer: ScorerName,
) -> Assessment:
    """Apply the rubric's rules to measured similarities."""
    use = SegmentUse(ev)
    findings = Findings()
    injected = set_aside_injections(use, findings)
    matches = _matches(card, ev, use, cal)
    found = find_misconceptions(
        card, ev, use, matches.mis_owner, matches.mis_texts, matches.best_kp_per_seg, cal
    )
    keyword_list = flag_keyword_list(sub.answer, findings)
    counted = use.counted()
    checked = _check(card, ev, use, counted, matches, cal)
    results, contradiction = _key_point_results(card, ev, use, matches, cal, keyword_list, findings)
    if contradiction:
        findings.raise_flag(Flag.POSSIBLE_CONTRADICTION)
    if checked is not None:
        flag_checked_contradictions(card, ev, checked, cal, findings)

    features = _features(card, ev, results, counted, contradiction)
    if ev.checker is not None:
        features |= checked.features(card) if checked else no_checker_features()
    flag_off_topic(ev, use, cal, injected, findings)
    # The whole answer's vector carries any text addressed to the grader: no head reads it then.
    pair = None if injected else ev.pair
    raw = cal.score_model.predict(features, pair) if cal.score_model else features["coverage"]
    # Nothing left to grade once the grader-directed text is set aside: nothing earned.
    score = ruled_score(raw, features, found, findings.flags, cal) if counted else 0.0

    flag_other_language(sub.answer, findings)
    confidence = _confidence(card, results, score, cal, findings.flags)
    if _needs_review(confidence, findings.flags, cal) and Flag.NEEDS_REVIEW not in findings.flags:
        findings.raise_flag(Flag.NEEDS_REVIEW)

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
        flags=findings.flags,
        notes=findings.notes,
        models=dict(ev.models),
        row=sub.row,
        answer_id=sub.answer_id,
    )
    return Assessment(grade, features, pair)


def _matches(card: RubricCard, ev: Evidence, use: SegmentUse, cal: Calibration) -> _Matches:
    kp_texts, mis_texts = card_phrasings(card)
    contra = contradictions(ev, kp_texts, use.real, cal.coverage_knots[0][0])
    consistent = np.where(contra, -1.0, ev.kp_sims)
    best_kp_per_seg = consistent.max(axis=1) if consistent.size else np.zeros(len(ev.segments))
    return _Matches(
        kp_owner=owners([len(p.phrasings) for p in card.key_points]),
        mis_owner=owners([len(m.phrasings) for m in card.misconceptions]),
        mis_texts=mis_texts,
        contra=contra,
        consistent=consistent,
        best_kp_per_seg=best_kp_per_seg,
    )


def _check(
    card: RubricCard,
    ev: Evidence,
    use: SegmentUse,
    counted: list[int],
    matches: _Matches,
    cal: Calibration,
) -> Checked | None:
    """The answer checker's verdicts, where one runs and something still counts."""
    if ev.checker is None:
        return None
    floor = cal.coverage_knots[0][0]
    return check_answer(card, ev, use, counted, matches.kp_owner, ev.checker, floor)


def _key_point_results(
    card: RubricCard,
    ev: Evidence,
    use: SegmentUse,
    matches: _Matches,
    cal: Calibration,
    keyword_list: bool,
    findings: Findings,
) -> tuple[list[KeyPointResult], bool]:
    """Every key point's result, and whether any was contradicted."""
    results: list[KeyPointResult] = []
    contradiction = False
    for k, point in enumerate(card.key_points):
        result, contradicted = _key_point_result(
            k, point, ev, use, matches, cal, keyword_list, findings
        )
        results.append(result)
        contradiction = contradiction or contradicted
    return results, contradiction


def _key_point_result(
    k: int,
    point: KeyPoint,
    ev: Evidence,
    use: SegmentUse,
    matches: _Matches,
    cal: Calibration,
    keyword_list: bool,
    findings: Findings,
) -> tuple[KeyPointResult, bool]:
    """How well the usable segments cover key point `k`, and whether one says its opposite."""
    cols = np.flatnonzero(matches.kp_owner == k)
    ok = np.where(use.usable[:, None], matches.consistent[:, cols], -1.0)
    seg, col = np.unravel_index(int(np.argmax(ok)), ok.shape)
    similarity = float(max(ok[seg, col], 0.0))
    coverage = float(cal.coverage(np.array(similarity)))
    evidence_seg = evidence_segment(ok, use.real, int(seg), use.whole)
    against = contradiction_of(ev, use, matches.contra, cols, coverage, cal)
    if against is not None:
        # The closest statement says the opposite: half credit at most, and a flag.
        similarity, coverage, evidence_seg = against
        findings.notes.append(
            f"possible_contradiction: {evidence_seg_text(ev, evidence_seg)!r} "
            f"may say the opposite of key point {point.id!r}"
        )
    evidence = ev.segments[evidence_seg] if coverage >= KEY_POINT_PARTIAL_AT else ""
    if keyword_list:
        coverage = min(coverage, cal.keyword_list_cap)
    result = KeyPointResult(
        key_point_id=point.id,
        text=point.text,
        coverage=round(coverage, 4),
        status=status_for(coverage),
        similarity=round(similarity, 4),
        evidence=evidence,
    )
    return result, against is not None


def _features(
    card: RubricCard,
    ev: Evidence,
    results: list[KeyPointResult],
    counted: list[int],
    contradiction: bool,
) -> dict[str, float]:
    """What a score model reads, from the segments still counted."""
    ref_sim = float(ev.ref_sims[counted].max()) if counted else 0.0
    question_sim = float(ev.question_sims[counted].max()) if counted else 0.0
    answer_words = [w for i in counted for w in content_words(ev.segments[i])]
    return answer_features(
        card,
        results,
        answer_words,
        ref_sim,
        question_sim,
        contradiction,
        aligned(card, ev, counted),
    )


def _needs_review(confidence: float, flags: list[Flag], cal: Calibration) -> bool:
    return confidence < cal.review_below or any(
        f in flags for f in (Flag.POSSIBLE_INJECTION, Flag.POSSIBLE_CONTRADICTION)
    )


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
    boundary = min(abs(score - PARTIAL_AT), abs(score - CORRECT_AT))
    label_conf = min(1.0, boundary / 0.1)
    confidence = 0.6 * point_conf + 0.4 * label_conf
    if Flag.POSSIBLE_CONTRADICTION in flags:
        confidence *= 0.6
    if Flag.POSSIBLE_INJECTION in flags:
        confidence *= 0.5
    if Flag.KEYWORD_LIST in flags:
        confidence *= 0.7
    return float(min(1.0, max(0.0, confidence)))
