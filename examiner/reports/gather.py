"""Everything a report shows, gathered once from the store into plain data (`views.py`).

Data flows one way: store → `ReportData` → renderers (HTML, Markdown, CSV,
plots). Every number a report prints is computed here (with `stats.py`, and
the properties of the views), once, so the class report, the student pages
and the gradebooks cannot disagree with each other; renderers only format.
Teachers' reviews are applied here too (an override *is* the grade), and
text examiner wrote about a grade or a run is redacted here, so no renderer
can leak a server address or a key.

Conventions a teacher can rely on:

- Points of an answer are `score × max_points`, shown (and summed) to two
  decimals, so a row of the gradebook adds up to its total exactly.
- A card a student did not answer earns nothing: it counts in the points
  possible, and its gradebook cell is empty.
- When a student answered one card more than once (distinct answer ids), the
  last answer in the file counts in the gradebook; every answer is shown and
  counted in the class statistics.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ..errors import ExaminerError
from ..models import Grade, KeyPointResult, MisconceptionResult, Rubric, StudentFeedback
from ..store import (
    Review,
    RunRecord,
    RunStats,
    Store,
    StoredGrade,
    StoreError,
    apply_review,
    latest_records,
    rubric_hash,
)
from .redact import redact, scrub, secrets_in_environment
from .stats import card_stats, key_point_stats, misconception_stats
from .views import (
    AnswerView,
    CardInfo,
    KeyPointInfo,
    KeyPointView,
    MisconceptionView,
    ReportData,
    RunView,
    StudentView,
    TeacherReview,
    points2,
)

__all__ = ["gather", "load_report_data"]


def load_report_data(
    db: str | Path,
    *,
    run_id: int | None = None,
    rubric: str | Path | Rubric | None = None,
    now: datetime | None = None,
) -> ReportData:
    """Open an existing database and gather its report data."""
    with Store.open(db, create=False) as store:
        return gather(store, run_id=run_id, rubric=rubric, now=now)


def gather(
    store: Store,
    *,
    run_id: int | None = None,
    rubric: str | Path | Rubric | None = None,
    now: datetime | None = None,
) -> ReportData:
    """The report of a class: the latest grade of every answer (or one run's), reviews applied.

    `rubric` supplies the questions and the cards nobody answered; by default
    the rubric file the run recorded is read, and without one the report is
    built from the grades alone (card ids stand in for questions).
    """
    records = list(latest_records(store, run_id))
    if not records:
        what = f"run {run_id}" if run_id is not None else str(store.path.name)
        raise StoreError(f"{what}: no grades to report: grade a class into it first")
    secrets = secrets_in_environment()
    runs = {r.id: r for r in store.runs()}
    used_runs = [runs[i] for i in sorted({s.run_id for s in records}) if i in runs]
    notices: list[str] = []
    loaded = _resolve_rubric(rubric, used_runs[-1] if used_runs else None, notices)
    cards = _cards(loaded, records, secrets)
    by_id = {c.id: c for c in cards}
    answers = [_answer(s, by_id[s.grade.card_id], secrets) for s in records]
    answers.sort(key=lambda a: (_natural(a.student_id), a.card.number, a.answer_id))
    students = _students(answers, cards)
    run_stats = store.all_run_stats([r.id for r in used_runs])
    title = next((r.rubric_title for r in reversed(used_runs) if r.rubric_title), "")
    title = title or (loaded.title if loaded is not None else "") or "Class report"
    scope = (
        f"run {run_id}"
        if run_id is not None
        else "the latest grade of every answer"
        + (f" across runs {', '.join(str(r.id) for r in used_runs)}" if len(used_runs) > 1 else "")
    )
    stamp = (now or datetime.now(UTC)).astimezone()
    return ReportData(
        title=scrub(title, secrets),
        database=store.path.name,
        scope=scope,
        generated=stamp.strftime("%Y-%m-%d %H:%M %Z").strip(),
        cards=tuple(cards),
        students=tuple(students),
        answers=tuple(answers),
        card_stats=tuple(card_stats(cards, answers)),
        key_point_stats=tuple(key_point_stats(cards, answers)),
        misconceptions=tuple(misconception_stats(answers)),
        runs=tuple(_run_view(r, run_stats.get(r.id), secrets) for r in used_runs),
        notices=tuple(notices),
    )


def _resolve_rubric(
    rubric: str | Path | Rubric | None, run: RunRecord | None, notices: list[str]
) -> Rubric | None:
    """The rubric to name cards by: the one given, else the run's file if it still reads."""
    if isinstance(rubric, Rubric):
        return rubric
    from ..rubric import load_rubric

    if rubric is not None:
        loaded = load_rubric(rubric)  # a rubric asked for by name must load: errors are the user's
    else:
        if run is None or not Path(run.rubric_path).is_file():
            name = Path(run.rubric_path).name if run is not None else "the rubric"
            notices.append(
                f"{name} was not found, so cards are named by id: pass --rubric FILE for "
                "their questions"
            )
            return None
        try:
            loaded = load_rubric(run.rubric_path)
        except ExaminerError as exc:
            notices.append(f"the run's rubric no longer reads ({exc}); cards are named by id")
            return None
    if run is not None and rubric_hash(loaded) != run.rubric_hash:
        notices.append(
            "the rubric file has changed since the run graded these answers: questions are "
            "shown from the current file, grades as they were stored"
        )
    return loaded


def _cards(
    rubric: Rubric | None, records: Sequence[StoredGrade], secrets: list[str]
) -> list[CardInfo]:
    """The rubric's cards in order, then any card the grades name that the rubric lacks."""
    cards: list[CardInfo] = []
    if rubric is not None:
        for i, card in enumerate(rubric.cards, 1):
            cards.append(
                CardInfo(
                    number=i,
                    id=card.id,
                    question=scrub(card.question, secrets),
                    max_points=card.max_points,
                    key_points=tuple(
                        KeyPointInfo(k.id, scrub(k.text, secrets)) for k in card.key_points
                    ),
                )
            )
    known = {c.id for c in cards}
    for stored in records:
        grade = stored.grade
        if grade.card_id in known:
            continue
        known.add(grade.card_id)
        cards.append(
            CardInfo(
                number=len(cards) + 1,
                id=grade.card_id,
                question=grade.card_id,
                max_points=grade.max_points,
                key_points=tuple(
                    KeyPointInfo(k.key_point_id, scrub(k.text, secrets)) for k in grade.key_points
                ),
                in_rubric=False,
            )
        )
    return cards


def _answer(stored: StoredGrade, card: CardInfo, secrets: list[str]) -> AnswerView:
    machine = stored.grade
    grade: Grade = apply_review(machine, stored.review)
    return AnswerView(
        student_id=scrub(grade.student_id, secrets),
        card=card,
        answer_id=grade.answer_id or "",
        answer=scrub(grade.answer, secrets),
        score=grade.score,
        points=points2(grade.points),
        max_points=grade.max_points,
        label=grade.label,
        scorer=grade.scorer,
        confidence=grade.confidence,
        flags=tuple(str(f) for f in grade.flags),
        notes=tuple(redact(n, secrets) for n in grade.notes),
        key_points=tuple(_key_point_view(k, secrets) for k in grade.key_points),
        misconceptions=tuple(_misconception_view(m, secrets) for m in grade.misconceptions),
        feedback=scrub(grade.feedback, secrets),
        judge_feedback=_judge_feedback(grade.judge_feedback, secrets),
        review=_review(stored.review, machine, secrets),
        run_id=stored.run_id,
        tokens=grade.tokens_in + grade.tokens_out,
    )


def _review(review: Review | None, machine: Grade, secrets: list[str]) -> TeacherReview | None:
    """The teacher's decision, next to the machine's grade it accepted or replaced."""
    if review is None:
        return None
    # An override without a score stands as an acceptance (see `apply_review`).
    overridden = review.action == "override" and review.score is not None
    return TeacherReview(
        action="override" if overridden else "accept",
        author=scrub(review.author, secrets),
        note=redact(review.note, secrets),
        when=review.created_at,
        machine_score=machine.score,
        machine_points=points2(machine.points),
    )


def _judge_feedback(feedback: StudentFeedback | None, secrets: list[str]) -> StudentFeedback | None:
    if feedback is None:
        return None
    return feedback.model_copy(
        update={
            "right": scrub(feedback.right, secrets),
            "missing": scrub(feedback.missing, secrets),
            "next_step": scrub(feedback.next_step, secrets),
        }
    )


def _key_point_view(k: KeyPointResult, secrets: list[str]) -> KeyPointView:
    return KeyPointView(
        id=k.key_point_id,
        text=scrub(k.text, secrets),
        status=k.status,
        coverage=k.coverage,
        evidence=scrub(k.evidence, secrets),
        reason=scrub(k.reason, secrets),
    )


def _misconception_view(m: MisconceptionResult, secrets: list[str]) -> MisconceptionView:
    return MisconceptionView(
        id=m.misconception_id,
        text=scrub(m.text, secrets),
        evidence=scrub(m.evidence, secrets),
        correction=scrub(m.correction, secrets),
        penalty=m.penalty,
    )


def _students(answers: Sequence[AnswerView], cards: Sequence[CardInfo]) -> list[StudentView]:
    by_student: dict[str, list[AnswerView]] = defaultdict(list)
    for answer in answers:
        by_student[answer.student_id].append(answer)
    possible = points2(sum(c.max_points for c in cards))
    slugs = _unique_slugs(list(by_student))
    students = []
    for student_id in sorted(by_student, key=_natural):
        theirs = by_student[student_id]
        counted: dict[str, AnswerView] = {}
        for answer in theirs:  # in file order within a card: the last one counts
            counted[answer.card.id] = answer
        points = points2(sum(a.points for a in counted.values()))
        students.append(
            StudentView(
                student_id=student_id,
                slug=slugs[student_id],
                answers=tuple(theirs),
                counted=counted,
                points=points,
                possible=possible,
                percent=round(100 * points / possible, 1) if possible else 0.0,
                missing_cards=tuple(c for c in cards if c.id not in counted),
            )
        )
    return students


def _run_view(run: RunRecord, stats: RunStats | None, secrets: list[str]) -> RunView:
    models, calibration = run.models, run.calibration
    judge = (run.settings.get("grading") or {}).get("judge") or {}
    if judge.get("mode", "off") == "off":
        judge_text = "off"
    else:
        judge_text = f"{judge.get('mode')} · {judge.get('model') or '?'}"
        if judge.get("prompt"):
            judge_text += f" · prompt {judge['prompt']}"
    cal_text = str(calibration.get("fitted_on") or "")
    if calibration.get("hash"):
        cal_text = f"{cal_text} ({str(calibration['hash'])[:8]})".strip()

    def clean(value: object) -> str:
        return redact(str(value or ""), secrets)

    return RunView(
        id=run.id,
        started=_local(run.started_at),
        finished=_local(run.finished_at) if run.finished_at else "",
        status=run.shown_status,
        rubric=clean(run.rubric_title or Path(run.rubric_path).name),
        answers_file=clean(Path(run.submissions_path).name),
        scorer=clean(models.get("scorer")),
        model=clean(models.get("model")),
        calibration=clean(cal_text),
        judge=clean(judge_text),
        answers=stats.answers if stats is not None else 0,
        flagged=stats.flagged if stats is not None else 0,
        tokens_in=stats.tokens_in if stats is not None else run.tokens_in,
        tokens_out=stats.tokens_out if stats is not None else run.tokens_out,
    )


# --- helpers -------------------------------------------------------------------------------


def _local(stamp: str) -> str:
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts s2 before s10."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.casefold())
        for part in re.split(r"(\d+)", text)
        if part
    )


def _unique_slugs(student_ids: Sequence[str]) -> dict[str, str]:
    """File name stems: readable, safe everywhere, unique even on case-insensitive disks.

    A student id is arbitrary text (`../x`, `=cmd`, `Ana` and `ana`), so the
    stem keeps only letters, digits, `-` and `_`, and gets a short hash of the
    id whenever that changed it or two stems would collide.
    """
    plain: dict[str, str] = {}
    for sid in student_ids:
        ascii_id = unicodedata.normalize("NFKD", sid).encode("ascii", "ignore").decode()
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_id).strip("-_")[:40] or "student"
        plain[sid] = stem
    folded = Counter(stem.casefold() for stem in plain.values())
    result = {}
    for sid, stem in plain.items():
        if stem != sid or folded[stem.casefold()] > 1:
            stem = f"{stem}-{hashlib.sha256(sid.encode('utf-8')).hexdigest()[:6]}"
        result[sid] = stem
    return result
