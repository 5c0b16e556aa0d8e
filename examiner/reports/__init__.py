"""Feedback reports and class analytics (`examiner report`).

    from examiner.reports import load_report_data, write_reports
    data = load_report_data("examiner.db")
    write_reports(data, "reports")

Data flows one way: the store → `ReportData` (`gather.py` into `views.py`: every number, once,
reviews applied, secrets redacted) → renderers, pure functions of that data:
`html.py` (jinja2 templates, autoescaped), `markdown.py`, `gradebook.py`
(Canvas, Moodle and long-format CSV) and `plots.py` (matplotlib → inline SVG).
This module only decides which files to write, and writes them.

Layout of the output directory:

    index.html, index.md          every student, linked; the downloads
    class-report.html             the class at a glance (self-contained)
    students/<id>.html, .md       one feedback page per student
    gradebook-canvas.csv          Canvas import
    gradebook-moodle.csv          Moodle import
    answers.csv                   one row per answer
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import ConfigError
from .gather import gather, load_report_data
from .views import ReportData, StudentView

__all__ = [
    "FORMATS",
    "Format",
    "ReportData",
    "Written",
    "gather",
    "load_report_data",
    "write_reports",
]

Format = Literal["html", "md", "csv"]
FORMATS: tuple[Format, ...] = ("html", "md", "csv")
CLASS_REPORT = "class-report.html"
STUDENTS_DIR = "students"
# Excel opens a UTF-8 CSV as UTF-8 only with a byte-order mark; Canvas and Moodle accept it.
CSV_ENCODING = "utf-8-sig"


@dataclass
class Written:
    """What `write_reports` wrote, for the command's summary."""

    directory: Path
    files: list[Path] = field(default_factory=list)
    students: int = 0

    def add(self, path: Path, text: str, encoding: str = "utf-8") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        # newline="": the CSV text already has its CRLF line ends; HTML/Markdown use \n.
        with temporary.open("w", encoding=encoding, newline="") as handle:
            handle.write(text)
        os.replace(temporary, path)  # a reader never sees half a file
        self.files.append(path)


def write_reports(
    data: ReportData,
    directory: str | Path,
    formats: Iterable[Format] = FORMATS,
    *,
    students: Collection[str] | None = None,
) -> Written:
    """Write the reports of `data` into `directory` (created if needed).

    `students`: only these students' feedback pages (HTML and/or Markdown);
    the class report, index and CSVs are about the class and are not written.
    """
    chosen = set(formats)
    unknown = chosen - set(FORMATS)
    if unknown:
        raise ConfigError(f"unknown report format {sorted(unknown)[0]!r}: use html, md or csv")
    out = Written(Path(directory))
    if students is not None:
        if not chosen & {"html", "md"}:
            raise ConfigError(
                "student feedback pages are HTML or Markdown: choose html or md", setting="format"
            )
        for student_id in students:
            _write_student(out, data, data.student(student_id), chosen, linked=False)
        return out

    html, md, csv_ = "html" in chosen, "md" in chosen, "csv" in chosen
    downloads: list[tuple[str, str]] = []
    if csv_:
        from . import gradebook

        out.add(
            out.directory / gradebook.CANVAS_FILE, gradebook.canvas_gradebook(data), CSV_ENCODING
        )
        out.add(
            out.directory / gradebook.MOODLE_FILE, gradebook.moodle_gradebook(data), CSV_ENCODING
        )
        out.add(out.directory / gradebook.LONG_FILE, gradebook.long_format(data), CSV_ENCODING)
        downloads = [
            (gradebook.CANVAS_FILE, "gradebook for Canvas (Grades → Import)"),
            (gradebook.MOODLE_FILE, "gradebook for Moodle (Grades → Import → CSV file)"),
            (gradebook.LONG_FILE, "every answer on its own row"),
        ]
    if html:
        from .html import render_class, render_index

        out.add(out.directory / CLASS_REPORT, render_class(data, student_pages=True))
        out.add(
            out.directory / "index.html",
            render_index(
                data, class_report=CLASS_REPORT, html=True, markdown=md, downloads=downloads
            ),
        )
    if md:
        from .markdown import render_index_md

        out.add(out.directory / "index.md", render_index_md(data, html=html))
    for student in data.students:
        _write_student(out, data, student, chosen, linked=True)
    return out


def _write_student(
    out: Written, data: ReportData, student: StudentView, chosen: set[Format], *, linked: bool
) -> None:
    """A student's pages; `linked`: the index and class report exist to link back to."""
    base = out.directory / STUDENTS_DIR / student.slug
    wrote = False
    if "html" in chosen:
        from .html import render_student

        page = render_student(
            data, student, index=linked, class_report=CLASS_REPORT if linked else ""
        )
        out.add(base.with_suffix(".html"), page)
        wrote = True
    if "md" in chosen:
        from .markdown import render_student_md

        out.add(base.with_suffix(".md"), render_student_md(data, student))
        wrote = True
    out.students += wrote
