"""The rubric's rules on top of the similarities: what takes credit away, and what raises a flag.

Answers with nothing to measure, text addressed to the grader, stated
misconceptions, statements of a key point's opposite, lists of terms and
off-topic answers are each decided here, the same way for every scorer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ..models import (
    KEY_POINT_PARTIAL_AT,
    Flag,
    Grade,
    KeyPointResult,
    Misconception,
    MisconceptionResult,
    RubricCard,
    ScorerName,
    Submission,
)
from .calibration import Calibration
from .checking import STATES_ANYTHING, Checked
from .cues import contradicts, injection_segments, is_keyword_list, is_non_answer
from .evidence import Evidence, SegmentUse, evidence_segment, segments_of
from .feedback import write_feedback
from .language import answer_language

__all__ = [
    "Findings",
    "contradiction_of",
    "contradictions",
    "find_misconceptions",
    "flag_checked_contradictions",
    "flag_keyword_list",
    "flag_off_topic",
    "flag_other_language",
    "ruled_score",
    "set_aside_injections",
    "trivial_grade",
]


@dataclass
class Findings:
    """The flags raised on an answer so far, and the notes that say why, in order."""

    flags: list[Flag] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def raise_flag(self, flag: Flag, note: str = "") -> None:
        self.flags.append(flag)
        if note:
            self.notes.append(note)


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


def set_aside_injections(use: SegmentUse, findings: Findings) -> bool:
    """Take text addressed to the grader out of scoring; whether there was any."""
    injected = injection_segments(use.parts)
    if not injected:
        return False
    # Words addressed to the grader earn nothing, nor does any piece of
    # them, and the whole answer that contains them is no longer a fair
    # unit to match.
    for i in injected:
        use.set_aside(i, with_parts=True)
    findings.raise_flag(
        Flag.POSSIBLE_INJECTION,
        "possible_injection: the answer addresses the grader; that text earns nothing",
    )
    return True


def contradictions(
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


def contradiction_of(
    ev: Evidence,
    use: SegmentUse,
    contra: NDArray[np.bool_],
    cols: NDArray[np.int64],
    coverage: float,
    cal: Calibration,
) -> tuple[float, float, int] | None:
    """(similarity, coverage, segment) of the closest statement of a key point's opposite.

    Only when it is close enough to count and, even at the reduced credit a
    contradiction earns, outweighs the best consistent match (`coverage`).
    """
    against = np.where(use.usable[:, None] & contra[:, cols], ev.kp_sims[:, cols], -1.0)
    a_seg = int(np.unravel_index(int(np.argmax(against)), against.shape)[0])
    a_sim = float(against.max())
    stated = float(cal.coverage(np.array(a_sim)))  # as if it agreed with the point
    a_cov = stated * cal.contradiction_factor
    close = a_sim > 0 and stated >= KEY_POINT_PARTIAL_AT
    if not (close and a_cov > coverage):
        return None
    return a_sim, a_cov, evidence_segment(against, use.real, a_seg, use.whole)


def find_misconceptions(
    card: RubricCard,
    ev: Evidence,
    use: SegmentUse,
    mis_owner: NDArray[np.int64],
    mis_texts: list[str],
    best_kp_per_seg: NDArray[np.float64],
    cal: Calibration,
) -> list[MisconceptionResult]:
    """The card's misconceptions the answer states, each with the segment that states it.

    A segment stating one is set aside: a false statement cannot also earn
    the point it gets wrong.
    """
    found: list[MisconceptionResult] = []
    for m, wrong in enumerate(card.misconceptions):
        seg = _clearest_statement(ev, use, mis_owner == m, mis_texts, best_kp_per_seg, cal)
        if seg < 0:
            continue
        found.append(_stated(wrong, ev.segments[seg]))
        use.set_aside(seg)
    return found


def _clearest_statement(
    ev: Evidence,
    use: SegmentUse,
    cols: NDArray[np.bool_],
    mis_texts: list[str],
    best_kp_per_seg: NDArray[np.float64],
    cal: Calibration,
) -> int:
    """The segment that states a misconception (its phrasings `cols`) most clearly; -1 if none.

    A segment states it if it is close to it and closer to it than to
    anything true it could be saying.
    """
    best_margin, best_seg = -1.0, -1
    for i in use.real:
        if not use.usable[i]:
            continue
        sims = np.where(cols, ev.mis_sims[i], -1.0)
        j = int(np.argmax(sims))
        sim = float(sims[j])
        if sim < cal.misconception_threshold or contradicts(ev.segments[i], mis_texts[j]):
            continue  # "the output is smaller" does not state "the output is larger"
        margin = sim - float(best_kp_per_seg[i])
        if margin >= cal.misconception_margin and margin > best_margin:
            best_margin, best_seg = margin, i
    return best_seg


def _stated(wrong: Misconception, evidence: str) -> MisconceptionResult:
    return MisconceptionResult(
        misconception_id=wrong.id,
        text=wrong.text,
        penalty=wrong.penalty,
        evidence=evidence,
        correction=wrong.correction,
    )


def flag_checked_contradictions(
    card: RubricCard, ev: Evidence, checked: Checked, cal: Calibration, findings: Findings
) -> None:
    """Flag (for review) what the answer checker reads as a contradiction; no credit moves.

    On real answers its contradictions are not precise enough to take credit away: on
    the calibration questions of SciEntsBank and Beetle, capping the grade of an answer
    with a key point it reads as contradicted lowered agreement at every threshold
    tried (0.7 to 0.9), the capped answers being mostly right ones. As a reason to
    look again it is worth having: it catches most negated answers.
    """
    at = cal.checker_contradiction_at
    for k, seg in checked.contradicted(at).items():
        findings.notes.append(
            f"possible_contradiction: {ev.segments[seg]!r} may say the opposite of key point "
            f"{card.key_points[k].id!r} (answer checker)"
        )
        findings.raise_flag(Flag.POSSIBLE_CONTRADICTION)
    if checked.contradicts_reference(at):
        findings.notes.append(
            "possible_contradiction: the answer checker reads the answer as saying the "
            "opposite of the reference"
        )
        findings.raise_flag(Flag.POSSIBLE_CONTRADICTION)


def flag_other_language(answer: str, findings: Findings) -> None:
    """Send an answer that is not in English to a teacher: the model cannot grade it."""
    language = answer_language(answer)
    if language is not None:
        findings.raise_flag(
            Flag.NEEDS_REVIEW,
            f"other_language: the answer seems to be in {language}; the embedding model "
            "reads English, so this grade may be wrong: a teacher should grade it",
        )


def flag_keyword_list(answer: str, findings: Findings) -> bool:
    """Flag an answer that lists terms without stating anything; whether it does."""
    if not is_keyword_list(answer):
        return False
    findings.raise_flag(
        Flag.KEYWORD_LIST, "keyword_list: terms without statements earn limited credit"
    )
    return True


def flag_off_topic(
    ev: Evidence, use: SegmentUse, cal: Calibration, injected: bool, findings: Findings
) -> None:
    """Flag an answer close to nothing on the card, or closer to another card than to its own.

    Not an answer that addresses the grader: its own flag says more. The other
    cards are the rest of the rubric: an answer about pooling given to the
    padding card shares the lesson's vocabulary, so only the comparison tells.
    """
    relevance = max(
        float(ev.kp_sims.max(initial=0.0)),
        float(ev.ref_sims.max(initial=0.0)),
        float(ev.question_sims.max(initial=0.0)),
    )
    if injected:
        return
    if relevance < cal.off_topic_threshold:
        findings.raise_flag(
            Flag.OFF_TOPIC, f"off_topic: best similarity to the card is {relevance:.2f}"
        )
        return
    counted = use.counted()
    if ev.other_sims is None or not ev.other_sims.size or not counted or not ev.kp_sims.size:
        return
    own = float(ev.kp_sims[counted].max())
    other = float(ev.other_sims[counted].max())
    # An answer that states one of its own card's points well is not off topic,
    # however close it also is to another card.
    if other > own + cal.other_card_margin and own < cal.partial_similarity():
        findings.raise_flag(
            Flag.OFF_TOPIC,
            f"off_topic: closer to another card's key points ({other:.2f}) "
            f"than to this card's ({own:.2f})",
        )


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
    grade is flagged for review. The answer checker's contradictions only flag.)
    An answer in which the answer checker finds nothing on the card stated (no
    pair at `checker_states_at` or above) also earns no more than its coverage:
    close words are then all it has.
    """
    score = raw - sum(m.penalty for m in found)
    if features.get(STATES_ANYTHING, 1.0) < cal.checker_states_at:
        score = min(score, features["coverage"])
    if Flag.KEYWORD_LIST in flags:
        score = min(score / 2, cal.keyword_list_cap)
    if Flag.OFF_TOPIC in flags:
        score = min(score, features["coverage"])
    return float(min(1.0, max(0.0, score)))
