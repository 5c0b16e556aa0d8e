"""Gradebook CSVs for Canvas and Moodle, and the long format (one row per answer).

Pure functions of `ReportData` returning CSV text. Two gradebook files because
the two systems want different things of the same table:

- **Canvas** (`gradebook-canvas.csv`) reads its own export format back:
  `Student,ID,SIS User ID,SIS Login ID,Section`, then one column per
  assignment, and an optional second row starting `Points Possible`, which
  sets the points of assignments the import creates. Totals must not be
  assignment columns (Canvas would create an assignment called "Total"), so
  they go in its read-only columns `Final Points` and `Final Score` (Canvas's
  own names for "total, with missing work as zero" and its percentage), which
  every import skips. Canvas matches a row on `ID` (its internal number,
  unknown to examiner, left empty), then `SIS User ID`, `SIS Login ID`, then
  the name in `Student`: examiner's student id goes in all three.
- **Moodle** (`gradebook-moodle.csv`) asks, on import, which column identifies
  the user (`ID number` here: Moodle's user field `idnumber`; map it to
  username or email instead if that is what the ids are) and maps each other
  column to a grade item or a new one; `Total` and `Percentage` are there to
  read, set them to "Ignore" when importing. A missing answer is `-`, Moodle's
  "no grade" (an empty cell only means that for existing grade items).

Every text cell goes through `safe_cell`: a student id such as `=HYPERLINK(…)`
is written `'=HYPERLINK(…)` so that no spreadsheet runs it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from ..formats.results import safe_cell
from . import numbers
from .views import AnswerView, ReportData

__all__ = [
    "CANVAS_FILE",
    "CANVAS_IDENTITY",
    "CANVAS_TOTALS",
    "LONG_COLUMNS",
    "LONG_FILE",
    "MOODLE_FILE",
    "MOODLE_IDENTITY",
    "MOODLE_NO_GRADE",
    "MOODLE_TOTALS",
    "canvas_gradebook",
    "long_format",
    "moodle_gradebook",
]

CANVAS_FILE = "gradebook-canvas.csv"
MOODLE_FILE = "gradebook-moodle.csv"
LONG_FILE = "answers.csv"

CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_TOTALS = ["Final Points", "Final Score"]
CANVAS_POINTS_ROW = "Points Possible"
MOODLE_IDENTITY = ["ID number"]
MOODLE_TOTALS = ["Total", "Percentage"]


class _Trusted(str):
    """A constant examiner writes itself, kept as is (a bare `-` is no formula)."""


MOODLE_NO_GRADE = _Trusted("-")

LONG_COLUMNS = [
    "student_id",
    "answer_id",
    "card_number",
    "card",
    "question",
    "answer",
    "score",
    "points",
    "max_points",
    "label",
    "covered",
    "partial",
    "missing",
    "misconceptions",
    "flags",
    "scorer",
    "confidence",
    "review",
    "machine_score",
    "feedback",
    "run",
]


def _write(rows: Iterable[Sequence[object]]) -> str:
    """CSV text, every cell neutralised but examiner's own constants."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([c if isinstance(c, _Trusted) else safe_cell(c) for c in row])
    return buffer.getvalue()


def _card_columns(data: ReportData) -> list[str]:
    return [c.id for c in data.cards]


def canvas_gradebook(data: ReportData) -> str:
    """One row per student: identity, points per card (empty: no answer), totals."""
    rows: list[Sequence[object]] = [CANVAS_IDENTITY + _card_columns(data) + CANVAS_TOTALS]
    rows.append(
        [CANVAS_POINTS_ROW, "", "", "", ""]
        + [numbers.points(c.max_points) for c in data.cards]
        + ["(read only)", "(read only)"]
    )
    for s in data.students:
        cells = [
            numbers.points(s.counted[c.id].points) if c.id in s.counted else "" for c in data.cards
        ]
        rows.append(
            [
                s.student_id,
                "",
                s.student_id,
                s.student_id,
                "",
                *cells,
                numbers.points(s.points),
                numbers.percent(s.percent),
            ]
        )
    return _write(rows)


def moodle_gradebook(data: ReportData) -> str:
    """One row per student: id number, points per card (`-`: no answer), totals."""
    rows: list[Sequence[object]] = [MOODLE_IDENTITY + _card_columns(data) + MOODLE_TOTALS]
    for s in data.students:
        cells = [
            numbers.points(s.counted[c.id].points) if c.id in s.counted else MOODLE_NO_GRADE
            for c in data.cards
        ]
        rows.append([s.student_id, *cells, numbers.points(s.points), numbers.percent(s.percent)])
    return _write(rows)


def long_format(data: ReportData, student_ids: Iterable[str] | None = None) -> str:
    """Every answer on its own row, with what it covered and how it was graded."""
    wanted = set(student_ids) if student_ids is not None else None
    rows: list[Sequence[object]] = [list(LONG_COLUMNS)]
    for a in data.answers:
        if wanted is None or a.student_id in wanted:
            rows.append(_long_row(a))
    return _write(rows)


def _long_row(a: AnswerView) -> list[object]:
    def ids(status: str) -> str:
        return "; ".join(k.id for k in a.key_points if k.status == status)

    review = ""
    if a.review is not None:
        review = f"{'overridden' if a.review.overridden else 'accepted'} by {a.review.author}"
        if a.review.note:
            review += f": {a.review.note}"
    return [
        a.student_id,
        a.answer_id,
        a.card.number,
        a.card.id,
        a.card.question,
        a.answer,
        numbers.score(a.score),
        numbers.points(a.points),
        numbers.points(a.max_points),
        a.label,
        ids("covered"),
        ids("partial"),
        ids("missing"),
        "; ".join(m.id for m in a.misconceptions),
        "; ".join(a.flags),
        a.scorer,
        numbers.score(a.confidence),
        review,
        numbers.score(a.review.machine_score) if a.review else "",
        a.feedback,
        a.run_id,
    ]
