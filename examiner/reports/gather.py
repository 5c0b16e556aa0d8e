"""Everything a report shows, gathered once from the store into plain data.

Data flows one way: store → `ReportData` → renderers (HTML, Markdown, CSV,
plots). Every number a report prints is computed here, once, so the class
report, the student pages and the gradebooks cannot disagree with each other;
renderers only format. Teachers' reviews are applied here too (an override
*is* the grade), and text examiner wrote about a grade or a run is redacted
here, so no renderer can leak a server address or a key.

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
import statistics
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ..errors import ExaminerError
from ..models import Grade, Rubric
from ..store import RunRecord, RunStats, Store, StoredGrade, StoreError, latest_records, rubric_hash
from .redact import redact, scrub, secrets_in_environment

__all__ = [
    "AnswerView",
    "CardInfo",
    "CardStats",
    "KeyPointInfo",
    "KeyPointStats",
    "KeyPointView",
    "MisconceptionStats",
    "MisconceptionView",
    "ReportData",
    "RunView",
    "StudentView",
    "TeacherReview",
    "gather",
    "load_report_data",
    "points2",
]

Status = Literal["covered", "partial", "missing"]
LABELS = ("correct", "partial", "incorrect")
# Credit of a key point status in the coverage heatmap: "partly said" is half.
STATUS_CREDIT = {"covered": 1.0, "partial": 0.5, "missing": 0.0}
MAX_EXAMPLES = 3


def points2(value: float) -> float:
    """Points as shown and summed everywhere: two decimals."""
    return round(value + 0.0, 2)


# --- the data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPointInfo:
    id: str
    text: str


@dataclass(frozen=True)
class CardInfo:
    """A card as the reports name it: its number in the rubric, id and question."""

    number: int
    id: str
    question: str
    max_points: float
    key_points: tuple[KeyPointInfo, ...]
    in_rubric: bool = True

    @property
    def anchor(self) -> str:
        return f"card-{self.number}"


@dataclass(frozen=True)
class KeyPointView:
    id: str
    text: str  # the rubric's point: what to learn when it is missing
    status: Status
    coverage: float
    evidence: str  # the student's own words that matched, verbatim
    reason: str = ""  # the judge's one-line reason, when it ran


@dataclass(frozen=True)
class MisconceptionView:
    id: str
    text: str
    evidence: str
    correction: str
    penalty: float


@dataclass(frozen=True)
class TeacherReview:
    """A teacher's decision on an answer; an override replaced the machine's grade."""

    action: Literal["accept", "override"]
    author: str
    note: str
    when: str
    machine_score: float
    machine_points: float

    @property
    def overridden(self) -> bool:
        return self.action == "override"


@dataclass(frozen=True)
class JudgeFeedback:
    right: str
    missing: str
    next_step: str


@dataclass(frozen=True)
class AnswerView:
    """One answer as it stands: the teacher's grade when there is one."""

    student_id: str
    card: CardInfo
    answer_id: str
    answer: str
    score: float
    points: float  # two decimals
    max_points: float
    label: str
    scorer: str
    confidence: float
    flags: tuple[str, ...]
    notes: tuple[str, ...]  # redacted
    key_points: tuple[KeyPointView, ...]
    misconceptions: tuple[MisconceptionView, ...]
    feedback: str
    judge_feedback: JudgeFeedback | None
    review: TeacherReview | None
    run_id: int
    tokens: int

    @property
    def awaiting_review(self) -> bool:
        """Flagged for a teacher's look and not yet looked at."""
        return self.review is None and any(_is_review_flag(f) for f in self.flags)

    @property
    def for_review(self) -> bool:
        """On the review list (reviewed or not): flagged by a review flag, or reviewed."""
        return self.review is not None or any(_is_review_flag(f) for f in self.flags)

    def count(self, status: Status) -> int:
        return sum(k.status == status for k in self.key_points)

    @property
    def summary(self) -> tuple[str, ...]:
        """The feedback's lines, less the misconceptions (reports show them on their own)."""
        lines = [line.strip() for line in self.feedback.splitlines() if line.strip()]
        if self.misconceptions:
            lines = [line for line in lines if not line.startswith("Not true:")]
        return tuple(lines)


@dataclass(frozen=True)
class StudentView:
    student_id: str
    slug: str  # file name stem, unique in the report, safe on every file system
    answers: tuple[AnswerView, ...]  # in card order; several per card when re-answered
    counted: Mapping[str, AnswerView]  # card id → the answer the gradebook counts
    points: float
    possible: float
    percent: float
    missing_cards: tuple[CardInfo, ...]

    @property
    def labels(self) -> Counter[str]:
        return Counter(a.label for a in self.counted.values())


@dataclass(frozen=True)
class CardStats:
    card: CardInfo
    answers: int
    mean: float
    sd: float
    median: float
    low: float
    high: float
    mean_points: float
    labels: Mapping[str, int]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class KeyPointStats:
    card: CardInfo
    key_point: KeyPointInfo
    position: int  # 1-based, in the card
    answers: int
    covered: int
    partial: int
    missing: int

    @property
    def coverage(self) -> float:
        """Share of the credit the class earned on this point (partial counts half)."""
        if not self.answers:
            return 0.0
        return (self.covered + 0.5 * self.partial) / self.answers

    @property
    def missed(self) -> float:
        return self.missing / self.answers if self.answers else 0.0


@dataclass(frozen=True)
class MisconceptionStats:
    card: CardInfo
    id: str
    text: str
    correction: str
    count: int
    students: tuple[str, ...]
    examples: tuple[tuple[str, str], ...]  # (student id, the words that stated it)


@dataclass(frozen=True)
class RunView:
    """What a teacher needs to know about a run; no host, path or address."""

    id: int
    started: str
    finished: str
    status: str
    rubric: str
    answers_file: str
    scorer: str
    model: str
    calibration: str
    judge: str
    answers: int
    flagged: int
    tokens_in: int
    tokens_out: int


@dataclass(frozen=True)
class ReportData:
    title: str
    database: str  # its file name only
    scope: str
    generated: str
    cards: tuple[CardInfo, ...]
    students: tuple[StudentView, ...]
    answers: tuple[AnswerView, ...]
    card_stats: tuple[CardStats, ...]
    key_point_stats: tuple[KeyPointStats, ...]
    misconceptions: tuple[MisconceptionStats, ...]
    runs: tuple[RunView, ...]
    notices: tuple[str, ...] = field(default=())

    @property
    def possible(self) -> float:
        return points2(sum(c.max_points for c in self.cards))

    @property
    def scores(self) -> list[float]:
        return [a.score for a in self.answers]

    @property
    def mean_score(self) -> float:
        return statistics.fmean(self.scores) if self.answers else 0.0

    @property
    def median_percent(self) -> float:
        return statistics.median(s.percent for s in self.students) if self.students else 0.0

    @property
    def mean_percent(self) -> float:
        return statistics.fmean(s.percent for s in self.students) if self.students else 0.0

    @property
    def labels(self) -> Counter[str]:
        return Counter(a.label for a in self.answers)

    @property
    def for_review(self) -> list[AnswerView]:
        return [a for a in self.answers if a.for_review]

    @property
    def awaiting_review(self) -> int:
        return sum(a.awaiting_review for a in self.answers)

    @property
    def most_missed(self) -> list[KeyPointStats]:
        """Key points by how many answers missed them, most-missed first."""
        return sorted(
            (k for k in self.key_point_stats if k.answers),
            key=lambda k: (-k.missed, k.coverage, k.card.number, k.position),
        )

    @property
    def tokens(self) -> tuple[int, int]:
        return sum(r.tokens_in for r in self.runs), sum(r.tokens_out for r in self.runs)

    def student(self, student_id: str) -> StudentView:
        for s in self.students:
            if s.student_id == student_id:
                return s
        shown = ", ".join(s.student_id for s in self.students[:10])
        more = ", …" if len(self.students) > 10 else ""
        raise ExaminerError(f"no student {student_id!r} in the report; students: {shown}{more}")


# --- gathering -----------------------------------------------------------------------------


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
        card_stats=tuple(_card_stats(cards, answers)),
        key_point_stats=tuple(_key_point_stats(cards, answers)),
        misconceptions=tuple(_misconception_stats(answers)),
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
    from ..store import apply_review

    machine = stored.grade
    grade: Grade = apply_review(machine, stored.review)
    review = None
    if stored.review is not None:
        r = stored.review
        review = TeacherReview(
            action=r.action if r.action == "override" and r.score is not None else "accept",
            author=scrub(r.author, secrets),
            note=redact(r.note, secrets),
            when=r.created_at,
            machine_score=machine.score,
            machine_points=points2(machine.points),
        )
    judge = None
    if grade.judge_feedback is not None:
        jf = grade.judge_feedback
        judge = JudgeFeedback(
            scrub(jf.right, secrets), scrub(jf.missing, secrets), scrub(jf.next_step, secrets)
        )
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
        key_points=tuple(
            KeyPointView(
                id=k.key_point_id,
                text=scrub(k.text, secrets),
                status=k.status,
                coverage=k.coverage,
                evidence=scrub(k.evidence, secrets),
                reason=scrub(k.reason, secrets),
            )
            for k in grade.key_points
        ),
        misconceptions=tuple(
            MisconceptionView(
                id=m.misconception_id,
                text=scrub(m.text, secrets),
                evidence=scrub(m.evidence, secrets),
                correction=scrub(m.correction, secrets),
                penalty=m.penalty,
            )
            for m in grade.misconceptions
        ),
        feedback=scrub(grade.feedback, secrets),
        judge_feedback=judge,
        review=review,
        run_id=stored.run_id,
        tokens=grade.tokens_in + grade.tokens_out,
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


def _card_stats(cards: Sequence[CardInfo], answers: Sequence[AnswerView]) -> Iterable[CardStats]:
    for card in cards:
        scores = [a.score for a in answers if a.card.id == card.id]
        if not scores:
            yield CardStats(card, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, {}, ())
            continue
        labels = Counter(a.label for a in answers if a.card.id == card.id)
        yield CardStats(
            card=card,
            answers=len(scores),
            mean=statistics.fmean(scores),
            sd=statistics.pstdev(scores),
            median=statistics.median(scores),
            low=min(scores),
            high=max(scores),
            mean_points=statistics.fmean(a.points for a in answers if a.card.id == card.id),
            labels={k: labels.get(k, 0) for k in LABELS},
            scores=tuple(scores),
        )


def _key_point_stats(
    cards: Sequence[CardInfo], answers: Sequence[AnswerView]
) -> Iterable[KeyPointStats]:
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for answer in answers:
        for k in answer.key_points:
            counts[(answer.card.id, k.id)][k.status] += 1
    for card in cards:
        for position, kp in enumerate(card.key_points, 1):
            c = counts.get((card.id, kp.id), Counter())
            yield KeyPointStats(
                card=card,
                key_point=kp,
                position=position,
                answers=sum(c.values()),
                covered=c["covered"],
                partial=c["partial"],
                missing=c["missing"],
            )


def _misconception_stats(answers: Sequence[AnswerView]) -> list[MisconceptionStats]:
    found: dict[tuple[str, str], list[tuple[AnswerView, MisconceptionView]]] = defaultdict(list)
    for answer in answers:
        for m in answer.misconceptions:
            found[(answer.card.id, m.id)].append((answer, m))
    stats = []
    for items in found.values():
        answer, first = items[0]
        stats.append(
            MisconceptionStats(
                card=answer.card,
                id=first.id,
                text=first.text,
                correction=first.correction,
                count=len(items),
                students=tuple(dict.fromkeys(a.student_id for a, _ in items)),
                examples=tuple(
                    (a.student_id, m.evidence or a.answer) for a, m in items[:MAX_EXAMPLES]
                ),
            )
        )
    stats.sort(key=lambda m: (-m.count, m.card.number, m.id))
    return stats


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


def _is_review_flag(flag: str) -> bool:
    from ..store import is_review_flag

    return is_review_flag(flag)


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
