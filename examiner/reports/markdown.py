"""Markdown feedback: one file per student and an index, for LMS messages and repos.

Pure functions of `ReportData`. Markdown renderers pass raw HTML through, so
student text is escaped twice over: `<`, `>` and `&` become entities (no tag
can form), and the characters Markdown gives meaning to are backslash-escaped
(an answer cannot turn itself into a link, a heading or a table cell).
"""

from __future__ import annotations

import re

from . import numbers
from .views import AnswerView, CardInfo, ReportData, StudentView

__all__ = ["md_escape", "render_index_md", "render_student_md"]

_STATUS = {"covered": "✔ covered", "partial": "◐ partial", "missing": "✘ missing"}
_LABEL = {"correct": "✔ correct", "partial": "◐ partial", "incorrect": "✘ incorrect"}
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Characters with a meaning anywhere in a line: emphasis, code, links, tables, strike.
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# Constructs that only start a line: lists, headings, setext underlines, ordered lists.
_LINE_START = re.compile(r"^(\s*)([-+=#]|\d+(?=[.)]))")


def md_escape(text: str) -> str:
    """Student or rubric text, shown literally by any Markdown renderer.

    Safe at the start of a line too (a block quote line, a table cell): a
    leading `-`, `+`, `=`, `#` or `1.` is escaped so it cannot start a list or
    a heading.
    """
    text = "".join(_ENTITIES.get(ch, ch) for ch in text)
    text = _SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(_escape_start, text)


def _escape_start(match: re.Match[str]) -> str:
    lead, mark = match.group(1), match.group(2)
    if mark[0].isdigit():
        return f"{lead}{mark}\\"  # `1\.` : the dot after the number is escaped
    return f"{lead}\\{mark}"


def _inline(text: str) -> str:
    """Escaped, on one line (table cells and list items)."""
    return md_escape(" ".join(text.split()))


def _quote(text: str) -> str:
    """A block quote of the text, line breaks kept."""
    lines = text.strip("\n").splitlines() or [""]
    return "\n".join(f"> {md_escape(line)}".rstrip() for line in lines)


def render_student_md(data: ReportData, student: StudentView) -> str:
    out = [
        f"# Feedback for {_inline(student.student_id)}",
        "",
        f"{_inline(data.title)}",
        "",
        f"**{numbers.points(student.points)} / {numbers.points(student.possible)} points "
        f"({numbers.percent(student.percent)}%)**, {len(student.counted)} of "
        f"{len(data.cards)} cards answered.",
        "",
        "| # | question | points | grade |",
        "|---:|---|---:|---|",
    ]
    for card in data.cards:
        a = student.counted.get(card.id)
        if a is None:
            out.append(
                f"| {card.number} | {_inline(card.question)} | 0 / "
                f"{numbers.points(card.max_points)} | no answer |"
            )
        else:
            teacher = " (teacher's grade)" if a.review and a.review.overridden else ""
            out.append(
                f"| {card.number} | {_inline(card.question)} | {numbers.points(a.points)} / "
                f"{numbers.points(card.max_points)} | {_LABEL[a.label]}{teacher} |"
            )
    for card in data.cards:
        theirs = [a for a in student.answers if a.card.id == card.id]
        out.append("")
        if not theirs:
            out.extend(_unanswered(card))
        for a in theirs:
            out.extend(_answer(a, several=len(theirs) > 1))
    out.append("")
    out.append(f"*Made by examiner from {md_escape(data.database)} on {data.generated}.*")
    return "\n".join(out) + "\n"


def _unanswered(card: CardInfo) -> list[str]:
    out = [
        f"## {card.number}. {_inline(card.question)}",
        "",
        f"**{numbers.points_of(0, card.max_points)}**: no answer was received.",
        "",
    ]
    out.extend(f"- ✘ missing: learn this: {_inline(kp.text)}" for kp in card.key_points)
    return out


def _answer(a: AnswerView, *, several: bool) -> list[str]:
    which = f" (answer {_inline(a.answer_id)})" if several and a.answer_id else ""
    out = [
        f"## {a.card.number}. {_inline(a.card.question)}{which}",
        "",
        f"**{numbers.score(a.score)}** · {numbers.points_of(a.points, a.max_points)} · "
        f"{_LABEL[a.label]}",
        "",
    ]
    out += _review_lines(a)
    out += ["Your answer:", "", _quote(a.answer) if a.answer.strip() else "> *(empty)*", ""]
    out += _key_point_lines(a)
    out += _misconception_lines(a)
    out += _feedback_lines(a)
    return out


def _review_lines(a: AnswerView) -> list[str]:
    """Whether the teacher set, checked or has yet to check this grade."""
    if a.review and a.review.overridden:
        note = f": “{_inline(a.review.note)}”" if a.review.note else ""
        return [
            f"**Your teacher's grade**, set by {_inline(a.review.author)}{note}. The automatic "
            f"grade was {numbers.score(a.review.machine_score)}.",
            "",
        ]
    if a.review:
        note = f": “{_inline(a.review.note)}”" if a.review.note else ""
        return [f"Checked by your teacher ({_inline(a.review.author)}){note}.", ""]
    if a.awaiting_review:
        return ["*This grade may still change: it is waiting for your teacher's review.*", ""]
    return []


def _key_point_lines(a: AnswerView) -> list[str]:
    out = []
    for kp in a.key_points:
        if kp.status == "missing":
            out.append(f"- {_STATUS[kp.status]}: **learn this:** {_inline(kp.text)}")
        else:
            said = f" (in your answer: “{_inline(kp.evidence)}”)" if kp.evidence else ""
            out.append(f"- {_STATUS[kp.status]}: {_inline(kp.text)}{said}")
    return out


def _misconception_lines(a: AnswerView) -> list[str]:
    out = []
    for m in a.misconceptions:
        said = (
            f"“{_inline(m.evidence)}” (that is: {_sentence(_inline(m.text))})"
            if m.evidence
            else _sentence(_inline(m.text))
        )
        fix = f" **In fact:** {_inline(m.correction)}" if m.correction else ""
        out.append(f"- ✘ **not true:** {said}{fix}")
    return out


def _feedback_lines(a: AnswerView) -> list[str]:
    """The judge's feedback when it gave some, else examiner's summary."""
    if a.judge_feedback is not None:
        jf = a.judge_feedback
        out = [""]
        for name, text in (
            ("Right", jf.right),
            ("Missing", jf.missing),
            ("Next step", jf.next_step),
        ):
            if text:
                out.append(f"**{name}:** {_inline(text)}  ")
        return out
    if a.summary:
        return [""] + [f"{_inline(line)}  " for line in a.summary]
    return []


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def render_index_md(data: ReportData, *, html: bool = False) -> str:
    """The students and their totals, each linked to their Markdown feedback."""
    out = [
        f"# {_inline(data.title)}",
        "",
        f"{len(data.students)} students · {len(data.cards)} cards · {len(data.answers)} answers · "
        f"mean answer score {numbers.score(data.mean_score)}",
        "",
    ]
    if html:
        out += ["The class report: [class-report.html](class-report.html).", ""]
    out += ["| student | points | % | answered |", "|---|---:|---:|---:|"]
    for s in data.students:
        out.append(
            f"| [{_inline(s.student_id)}](students/{s.slug}.md) | {numbers.points(s.points)} / "
            f"{numbers.points(s.possible)} | {numbers.percent(s.percent)} | {len(s.counted)} |"
        )
    out += ["", "| # | card | answers | mean score |", "|---:|---|---:|---:|"]
    for c in data.card_stats:
        mean = numbers.score(c.mean) if c.answers else "—"
        out.append(f"| {c.card.number} | {_inline(c.card.id)} | {c.answers} | {mean} |")
    return "\n".join(out) + "\n"
