"""The judged Grade: a verified verdict turned into examiner's grade, or the fallback.

`judge_grade` keeps both stages' results on the grade, bounds the score when
the answer addresses the grader, flags disagreement between the stages and
moves the grade from the embedding stage's by the judge's weight (a weak
judge model, fitted on teacher-graded answers, moves it less);
`failed_grade` lets the embedding grade stand when the judge gave nothing.
"""

from __future__ import annotations

from dataclasses import replace

from ..config import JudgeSettings
from ..models import Flag, Grade, RubricCard, StageResult, StudentFeedback, label_for
from ..scoring.calibration import Calibration
from .verdict import Verdict
from .verify import Checked, check_verdict

__all__ = ["DEFAULT_REVIEW_BELOW", "blend", "failed_grade", "judge_grade", "with_weight"]

# Below this confidence a judged grade is flagged for review: the grader's
# calibration says where (`review_below`); this is the calibrations' default.
DEFAULT_REVIEW_BELOW: float = Calibration.model_fields["review_below"].default


def with_weight(settings: JudgeSettings, calibration: Calibration) -> JudgeSettings:
    """The settings with the judge's weight: as set, else as the calibration fitted it
    for this judge model against its embedding stage, else 1 (the judge's score)."""
    if settings.weight is not None:
        return settings
    fitted = calibration.judge_weights.get(settings.model or "")
    return replace(settings, weight=1.0 if fitted is None else fitted.weight)


def failed_grade(first: Grade, reason: str, tokens_in: int = 0, tokens_out: int = 0) -> Grade:
    """The embedding grade, standing, flagged `judge_failed` with the reason."""
    flags = list(first.flags)
    if Flag.JUDGE_FAILED not in flags:
        flags.append(Flag.JUDGE_FAILED)
    return first.model_copy(
        update={
            "flags": flags,
            "notes": [*first.notes, f"judge_failed: {reason}"],
            "tokens_in": first.tokens_in + tokens_in,
            "tokens_out": first.tokens_out + tokens_out,
        }
    )


def judge_grade(
    card: RubricCard,
    first: Grade,
    verdict: Verdict,
    settings: JudgeSettings,
    *,
    tokens_in: int = 0,
    tokens_out: int = 0,
    cached: bool = False,
    review_below: float = DEFAULT_REVIEW_BELOW,
) -> Grade:
    """The final grade from a verdict: verified, scored by examiner, both stages kept."""
    checked = check_verdict(card, first.answer, verdict, first)
    judge_result = _judge_result(checked, verdict, settings, tokens_in, tokens_out, cached)
    if checked.baseless:
        return _baseless_grade(first, checked, judge_result)
    score = checked.score
    notes = list(first.notes)
    flags: list[Flag] = [f for f in first.flags if f != Flag.NEEDS_REVIEW]
    notes += checked.notes
    if checked.injection:
        if Flag.POSSIBLE_INJECTION not in flags:
            flags.append(Flag.POSSIBLE_INJECTION)
        if checked.injection_reported:
            notes.append("possible_injection: the judge reports text addressed to the grader")
        bound = max(first.score, checked.supported_score)
        if score > bound:
            notes.append(
                f"possible_injection: score held at {bound:.2f} (the judge said {score:.2f}): "
                "no more than the embedding stage and the answer's own words support"
            )
            score = bound
    flags += checked.flags
    gap = abs(score - first.score)
    score = _weighted(first.score, score, settings.weight, notes)
    disagree = gap > settings.disagreement_margin
    if disagree:
        flags.append(Flag.STAGE_DISAGREEMENT)
        notes.append(
            f"stage_disagreement: embedding {first.score:.2f}, judge {score:.2f} "
            f"(margin {settings.disagreement_margin:.2f})"
        )
    confidence = 0.9 - 0.5 * gap
    if checked.unverified:
        confidence *= 0.7
    if checked.injection:
        confidence *= 0.5
    confidence = min(1.0, max(0.0, confidence))
    if checked.injection or checked.unverified or disagree or confidence < review_below:
        flags.append(Flag.NEEDS_REVIEW)
    feedback = StudentFeedback(
        right=verdict.feedback.right,
        missing=verdict.feedback.missing,
        next_step=verdict.feedback.next_step,
    )
    return first.model_copy(
        update={
            "score": round(score, 4),
            "points": round(score * card.max_points, 4),
            "label": label_for(score),
            "key_points": checked.key_points,
            "misconceptions": checked.misconceptions,
            "feedback": _feedback(card, checked, feedback),
            "scorer": "judge",
            "confidence": round(confidence, 4),
            "flags": list(dict.fromkeys(flags)),
            "notes": notes,
            "models": {**first.models, "judge": settings.model or ""},
            "tokens_in": first.tokens_in + tokens_in,
            "tokens_out": first.tokens_out + tokens_out,
            "embedding": _stage_of(first),
            "judge": judge_result,
            "judge_feedback": feedback,
        }
    )


def blend(embedding: float, judge: float, weight: float) -> float:
    """The grade's score: the judge's moved toward the embedding stage's by the judge's
    weight (1: the judge's score, 0: the embedding stage's). Fitting the weight uses it too."""
    return embedding + weight * (judge - embedding)


def _weighted(embedding: float, judge: float, weight: float | None, notes: list[str]) -> float:
    """The judge's score at the judge's weight, with a note when that moved it."""
    if weight is None or weight >= 1.0:
        return judge
    blended = blend(embedding, judge, weight)
    notes.append(
        f"judge_weight: judge {judge:.2f}, embedding {embedding:.2f}: "
        f"{blended:.2f} at judge weight {weight:.2f}"
    )
    return blended


def _baseless_grade(first: Grade, checked: Checked, judge_result: StageResult) -> Grade:
    """The embedding grade, standing: the verdict's quotes are mostly not in the answer.

    The judge's reading is kept on the grade (`judge`) for the reviewer, but
    nothing of it counts.
    """
    flags = [*first.flags, Flag.UNVERIFIED_QUOTE, Flag.NEEDS_REVIEW]
    note = (
        f"unverified_quote: {checked.quotes_failed} of the judge's {checked.quotes_claimed} "
        "quotes are not in the answer: its verdict is not evidence, the embedding grade stands"
    )
    return first.model_copy(
        update={
            "flags": list(dict.fromkeys(flags)),
            "notes": [*first.notes, *checked.notes, note],
            "models": {**first.models, "judge": judge_result.model},
            "tokens_in": first.tokens_in + judge_result.tokens_in,
            "tokens_out": first.tokens_out + judge_result.tokens_out,
            "embedding": _stage_of(first),
            "judge": judge_result,
        }
    )


def _judge_result(
    checked: Checked,
    verdict: Verdict,
    settings: JudgeSettings,
    tokens_in: int,
    tokens_out: int,
    cached: bool,
) -> StageResult:
    """The judge's own reading, verified, as kept on the grade beside the embedding's."""
    return StageResult(
        scorer="judge",
        score=checked.score,
        label=label_for(checked.score),
        key_points=checked.key_points,
        misconceptions=checked.misconceptions,
        model=settings.model or "",
        model_score=verdict.overall_score,
        injection_reported=checked.injection_reported,
        cached=cached,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
    )


def _stage_of(grade: Grade) -> StageResult:
    return StageResult(
        scorer=grade.scorer,
        score=grade.score,
        label=grade.label,
        confidence=grade.confidence,
        key_points=grade.key_points,
        misconceptions=grade.misconceptions,
        model=next(iter(grade.models.values()), ""),
    )


def _feedback(card: RubricCard, checked: Checked, feedback: StudentFeedback) -> str:
    """The model's feedback when every quote held and nothing addressed the grader.

    Otherwise examiner writes its own from the verified key points: the
    model's words may rest on what did not hold.
    """
    if checked.injection or checked.unverified:
        from ..scoring.feedback import write_feedback

        return write_feedback(card, checked.key_points, checked.misconceptions)
    lines = []
    if feedback.right:
        lines.append(f"Right: {feedback.right}")
    if feedback.missing:
        lines.append(f"Missing: {feedback.missing}")
    if feedback.next_step:
        lines.append(f"Next step: {feedback.next_step}")
    for wrong in checked.misconceptions:
        fix = f" {_sentence(wrong.correction)}" if wrong.correction else ""
        lines.append(f"Not true: {_sentence(wrong.text)}{fix}")
    for quote, correction in checked.other_errors:
        lines.append(f"Not true: “{quote}”. {_sentence(correction)}".rstrip())
    return "\n".join(lines)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith((".", "!", "?")) else text + "."
