"""HTML reports: the class report, one feedback page per student, and an index.

Pure functions of `ReportData`: each returns the page as a string. Templates
live in `templates/` (package data) and are rendered by jinja2 with
autoescaping always on, so every piece of student text (answers, ids, quoted
evidence) is escaped; only the charts (SVG that matplotlib wrote and escaped)
and the constant stylesheet and script are inserted as markup.

Each page is self-contained (inline CSS, inline SVG, inline script) and
carries a Content-Security-Policy that forbids loading anything and runs only
the one script whose hash it names: even if some text slipped through
unescaped, a browser would neither fetch nor execute it.
"""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from .. import __version__
from . import numbers, palette
from .views import AnswerView, ReportData, StudentView

__all__ = ["render_class", "render_index", "render_student"]

LABEL_SYMBOLS = {"correct": "✔", "partial": "◐", "incorrect": "✘"}
STATUS_SYMBOLS = {"covered": "✔", "partial": "◐", "missing": "✘"}
COLOURS = {
    "blue": palette.BLUE,
    "correct": palette.LABEL_COLOURS["correct"],
    "partial": palette.LABEL_COLOURS["partial"],
    "incorrect": palette.LABEL_COLOURS["incorrect"],
    "highlight": palette.HIGHLIGHT,
}


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("examiner.reports", "templates"),
        autoescape=True,  # every template, whatever its name: student text is never markup
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["score"] = numbers.score
    env.filters["points"] = numbers.points
    env.filters["percent"] = numbers.percent
    env.globals.update(
        points_of=numbers.points_of,
        label_symbols=LABEL_SYMBOLS,
        status_symbols=STATUS_SYMBOLS,
        colours=COLOURS,
        tints=palette.TINTS,
        version=__version__,
    )
    return env


@cache
def _sort_script() -> tuple[Markup, str]:
    """The table-sorting script and its CSP source (`'sha256-…'`)."""
    loader = _environment().loader
    assert loader is not None
    source, _, _ = loader.get_source(_environment(), "sort.js")
    digest = base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode()
    return Markup(source), f"'sha256-{digest}'"


def _render(template: str, *, scripted: bool, **context: Any) -> str:
    script, source = _sort_script() if scripted else (Markup(""), "'none'")
    page = _environment().get_template(template)
    return page.render(script=script, script_source=source, **context)


def render_class(
    data: ReportData, *, student_pages: bool = True, plots: dict[str, str] | None = None
) -> str:
    """The class report. `student_pages`: link names to `students/<slug>.html`."""
    from . import plots as charts

    drawn = plots or {
        "students": charts.student_histogram([s.percent for s in data.students]),
        "scores": charts.score_histogram(data.scores),
        "cards": charts.card_spread(data.card_stats),
        "heatmap": charts.coverage_heatmap(data.key_point_stats),
    }
    return _render(
        "class.html",
        scripted=True,
        data=data,
        plots={name: Markup(svg) for name, svg in drawn.items()},
        html_students=student_pages,
        slugs={s.student_id: s.slug for s in data.students},
    )


def render_student(
    data: ReportData, student: StudentView, *, index: bool = True, class_report: str = ""
) -> str:
    """One student's feedback page (in `students/`); `index`: link back to `../index.html`."""
    by_card: dict[str, list[AnswerView]] = defaultdict(list)
    for answer in student.answers:
        by_card[answer.card.id].append(answer)
    return _render(
        "student.html",
        scripted=False,
        data=data,
        student=student,
        answers_by_card=dict(by_card),
        index=index,
        class_report=class_report,
    )


def render_index(
    data: ReportData,
    *,
    class_report: str = "",
    html: bool = True,
    markdown: bool = False,
    downloads: list[tuple[str, str]] | None = None,
) -> str:
    """The entry page: the class report, the downloads, and every student's page."""
    return _render(
        "index.html",
        scripted=True,
        data=data,
        class_report=class_report,
        html=html,
        markdown=markdown,
        downloads=downloads or [],
    )
