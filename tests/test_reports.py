"""`examiner report` (issue 6): feedback pages, the class report and gradebooks.

Reports are made from real stores: the repo's example class (always) and the
shared CNN lesson class (skipped when ../shared is absent), then read back:
files, students, cards and every number against the store; HTML escaping,
CSV formula neutralisation and redaction of server addresses and keys.
"""

from __future__ import annotations

import csv
import re
import statistics
from collections import Counter, defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape
from typer.testing import CliRunner, Result

from examiner.batch import run_batch
from examiner.cli import app
from examiner.config import JudgeSettings
from examiner.models import Grade, Rubric
from examiner.reports import gather, load_report_data, write_reports
from examiner.reports.gather import _unique_slugs
from examiner.reports.gradebook import (
    CANVAS_IDENTITY,
    CANVAS_TOTALS,
    MOODLE_IDENTITY,
    MOODLE_NO_GRADE,
    MOODLE_TOTALS,
)
from examiner.reports.markdown import md_escape
from examiner.reports.redact import redact
from examiner.rubric import load_rubric, save_rubric
from examiner.scoring.grader import Grader
from examiner.store import Store, is_review_flag, latest_grades, latest_records
from tests.conftest import CNN_RUBRIC, EXAMPLE_CLASS, SHARED

SHARED_CLASS = SHARED / "datasets" / "cnn-lesson3" / "submissions.csv"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_FILES = ("gradebook-canvas.csv", "gradebook-moodle.csv", "answers.csv")
runner = CliRunner()


def esc(text: str) -> str:
    """Text as the reports' templates escape it."""
    return str(escape(text))


def run(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


# --- building stores and reading reports back ---------------------------------------------


def fill_store(db: Path, grader: Grader, rubric: Path, submissions: Path) -> Path:
    with Store.open(db) as store:
        run_batch(store, grader, rubric, submissions)
    return db


def store_grades(db: Path) -> list[Grade]:
    """What the reports must show: the latest grade of each answer, reviews applied."""
    with Store.open(db, create=False) as store:
        return list(latest_grades(store))


def store_totals(grades: list[Grade]) -> dict[str, float]:
    """Each student's points: per-answer points to two decimals, summed."""
    totals: dict[str, float] = defaultdict(float)
    for g in grades:
        totals[g.student_id] += round(g.points, 2)
    return {k: round(v, 2) for k, v in totals.items()}


class _Tables(HTMLParser):
    """The rows (cell texts) of every table that has an id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and found.get("id"):
            self._table = found["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._table and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(path: Path) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.tables


def body_rows(path: Path, table: str) -> list[list[str]]:
    return tables(path)[table][1:]  # without the header row


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def student_page(out: Path, student_id: str, ext: str = "html") -> Path:
    with Store.open(out.parent / "class.db", create=False) as store:
        data = gather(store)
    return out / "students" / f"{data.student(student_id).slug}.{ext}"


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example class (lexical scorer), one override and one accept, reported in full."""
    root = tmp_path_factory.mktemp("example")
    db = fill_store(
        root / "class.db",
        Grader(load_rubric(CNN_RUBRIC), scorer="lexical"),
        CNN_RUBRIC,
        EXAMPLE_CLASS,
    )
    with Store.open(db) as store:
        first = next(s for s in latest_records(store) if s.grade.student_id == "ana")
        store.add_review(first, "override", score=0.6, note="fair enough", author="ms-k")
        flagged = next(
            s
            for s in latest_records(store)
            if s.review is None and any(is_review_flag(str(f)) for f in s.grade.flags)
        )
        store.add_review(flagged, "accept", note="looked at it", author="ms-k")
        write_reports(gather(store), root / "reports")
    return root / "reports"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, grader: Grader) -> Path:
    """The shared CNN lesson class, graded by the real model, reported in full."""
    if not SHARED_CLASS.is_file():
        pytest.skip(f"shared data set not found: {SHARED_CLASS}")
    root = tmp_path_factory.mktemp("shared")
    db = fill_store(root / "class.db", grader, CNN_RUBRIC, SHARED_CLASS)
    write_reports(load_report_data(db), root / "reports")
    return root / "reports"


@pytest.fixture(params=["example", pytest.param("shared", marks=pytest.mark.model)])
def reports(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


# --- what is written, and that it matches the store ----------------------------------------


def test_every_file_is_written(reports: Path) -> None:
    grades = store_grades(reports.parent / "class.db")
    for name in ("index.html", "index.md", "class-report.html", *CSV_FILES):
        assert (reports / name).is_file(), name
    students = {g.student_id for g in grades}
    pages = sorted(p.name for p in (reports / "students").iterdir())
    assert len(pages) == 2 * len(students)
    for student in students:
        assert student_page(reports, student).is_file()
        assert student_page(reports, student, "md").is_file()


def test_every_student_and_card_appears(reports: Path) -> None:
    grades = store_grades(reports.parent / "class.db")
    rubric = load_rubric(CNN_RUBRIC)
    report = (reports / "class-report.html").read_text(encoding="utf-8")
    index = (reports / "index.html").read_text(encoding="utf-8")
    for student in {g.student_id for g in grades}:
        assert esc(student) in report and esc(student) in index
        page = student_page(reports, student).read_text(encoding="utf-8")
        markdown = student_page(reports, student, "md").read_text(encoding="utf-8")
        for card in rubric.cards:  # every card, answered or not
            assert esc(card.question) in page
            assert md_escape(" ".join(card.question.split())) in markdown
    for card in rubric.cards:
        assert esc(card.id) in report and esc(card.question) in report


def test_card_numbers_equal_the_store(reports: Path) -> None:
    grades = store_grades(reports.parent / "class.db")
    by_card: dict[str, list[Grade]] = defaultdict(list)
    for g in grades:
        by_card[g.card_id].append(g)
    rows = body_rows(reports / "class-report.html", "card-table")
    assert len(rows) == len(load_rubric(CNN_RUBRIC).cards)
    for row in rows:
        card_id = row[1].split(" ")[0]
        scores = [g.score for g in by_card[card_id]]
        labels = Counter(g.label for g in by_card[card_id])
        assert row[2] == str(len(scores))
        assert row[3] == f"{statistics.fmean(scores):.2f}"
        assert row[4] == f"{statistics.pstdev(scores):.2f}"
        assert row[5] == f"{statistics.median(scores):.2f}"
        assert row[6] == f"{min(scores):.2f}–{max(scores):.2f}"
        assert row[-3:] == [str(labels[k]) for k in ("correct", "partial", "incorrect")]


def test_student_totals_equal_the_store(reports: Path) -> None:
    grades = store_grades(reports.parent / "class.db")
    totals = store_totals(grades)
    possible = len(load_rubric(CNN_RUBRIC).cards)
    rows = body_rows(reports / "class-report.html", "student-table")
    assert {r[0] for r in rows} == set(totals)
    for row in rows:
        total = totals[row[0]]
        assert row[1] == f"{_pts(total)} / {possible}"
        assert row[2] == f"{100 * total / possible:.1f}"
    index_rows = body_rows(reports / "index.html", "index-table")
    assert [r[:3] for r in index_rows] == [r[:3] for r in rows]


def test_each_answer_on_its_student_page_equals_the_store(reports: Path) -> None:
    grades = store_grades(reports.parent / "class.db")
    rubric = load_rubric(CNN_RUBRIC)
    numbers = {c.id: i for i, c in enumerate(rubric.cards, 1)}
    for student in {g.student_id for g in grades}:
        page = student_page(reports, student)
        rows = {r[0]: r for r in body_rows(page, "cards-table")}
        text = page.read_text(encoding="utf-8")
        for g in (g for g in grades if g.student_id == student):
            row = rows[str(numbers[g.card_id])]
            assert row[2] == f"{_pts(g.points)} / 1"
            assert g.label in row[3]
            assert f"{g.score:.2f} · {_pts(g.points)} / 1 point" in text
            for kp in g.key_points:  # each key point with its status, and the words matched
                assert esc(kp.text) in text
                if kp.status != "missing" and kp.evidence:
                    assert esc(kp.evidence) in text


def test_key_point_and_misconception_counts_equal_the_store(reports: Path) -> None:
    grades = store_grades(reports.parent / "class.db")
    missed = Counter(
        (g.card_id, k.key_point_id) for g in grades for k in g.key_points if k.status == "missing"
    )
    answered = Counter(g.card_id for g in grades)
    rubric = load_rubric(CNN_RUBRIC)
    positions = {(c.id, i): k.id for c in rubric.cards for i, k in enumerate(c.key_points, 1)}
    rows = body_rows(reports / "class-report.html", "key-point-table")
    assert len(rows) == sum(len(c.key_points) for c in rubric.cards)
    for row in rows:
        card_id = row[0].split(" ", 1)[1]
        kp = positions[(card_id, int(row[1]))]
        assert row[3] == f"{round(100 * missed[(card_id, kp)] / answered[card_id])}%"
    found = Counter((g.card_id, m.misconception_id) for g in grades for m in g.misconceptions)
    shown = body_rows(reports / "class-report.html", "misconception-table")
    assert sorted(int(r[0]) for r in shown) == sorted(found.values())


def test_flagged_answers_are_listed(reports: Path) -> None:
    db = reports.parent / "class.db"
    with Store.open(db, create=False) as store:
        expected = [
            s
            for s in latest_records(store)
            if s.review is not None or any(is_review_flag(f) for f in s.flags)
        ]
    rows = body_rows(reports / "class-report.html", "review-table") if expected else []
    assert len(rows) == len(expected)
    awaiting = sum(s.review is None for s in expected)
    assert sum(r[3] == "awaiting review" for r in rows) == awaiting


def test_run_details_are_shown(reports: Path) -> None:
    rows = body_rows(reports / "class-report.html", "run-table")
    assert len(rows) == 1
    run = rows[0]
    assert run[0] == "1" and run[2] == "finished"
    assert "class-submissions.csv" in run[3] or "submissions.csv" in run[3]
    assert run[6] == "off"  # no judge
    assert run[7] == str(len(store_grades(reports.parent / "class.db")))
    assert run[9] == "0 / 0"


def test_the_class_report_has_its_plots_and_needs_no_network(reports: Path) -> None:
    text = (reports / "class-report.html").read_text(encoding="utf-8")
    for name in ("students", "scores", "cards", "heatmap"):
        assert f'class="plot plot-{name}"' in text
    assert "default-src 'none'" in text  # the page may load nothing
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "@media print" in text and 'name="viewport"' in text


def test_the_gradebooks_parse_back_to_the_store(reports: Path) -> None:
    grades = store_grades(reports.parent / "class.db")
    totals = store_totals(grades)
    rubric = load_rubric(CNN_RUBRIC)
    cards = [c.id for c in rubric.cards]
    points = {(g.student_id, g.card_id): round(g.points, 2) for g in grades}

    canvas = read_csv(reports / "gradebook-canvas.csv")
    assert canvas[0] == CANVAS_IDENTITY + cards + CANVAS_TOTALS
    assert canvas[1][0] == "Points Possible" and canvas[1][5:-2] == ["1"] * len(cards)
    moodle = read_csv(reports / "gradebook-moodle.csv")
    assert moodle[0] == MOODLE_IDENTITY + cards + MOODLE_TOTALS
    for rows, first, empty in ((canvas[2:], 5, ""), (moodle[1:], 1, MOODLE_NO_GRADE)):
        assert sorted(r[0] for r in rows) == sorted(totals)
        for row in rows:
            student, cells = row[0], row[first:-2]
            for card, cell in zip(cards, cells, strict=True):
                expected = points.get((student, card))
                assert cell == (empty if expected is None else _pts(expected))
            got = [float(c) for c in cells if c != empty]
            assert float(row[-2]) == pytest.approx(totals[student], abs=1e-9)
            assert float(row[-2]) == pytest.approx(sum(got), abs=1e-9)
            assert float(row[-1]) == pytest.approx(100 * totals[student] / len(cards), abs=0.05)


def test_the_long_format_has_one_row_per_answer(reports: Path) -> None:
    grades = store_grades(reports.parent / "class.db")
    with (reports / "answers.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(grades)
    by_key = {(r["student_id"], r["card"]): r for r in rows}
    for g in grades:
        row = by_key[(g.student_id, g.card_id)]
        assert row["score"] == f"{g.score:.2f}" and row["label"] == g.label
        neutralised = g.answer.startswith(FORMULA_START)
        assert row["answer"] == ("'" if neutralised else "") + g.answer


# --- reviews -------------------------------------------------------------------------------


def test_an_override_is_the_teachers_grade_everywhere(example: Path) -> None:
    grades = store_grades(example.parent / "class.db")
    ana = next(
        g for g in grades if g.student_id == "ana" and any("overridden" in n for n in g.notes)
    )
    assert ana.score == 0.6
    page = student_page(example, "ana").read_text(encoding="utf-8")
    assert "Your teacher's grade:</b> 0.60" in page and "fair enough" in page
    assert "teacher's grade</span>" in page  # in the table at a glance
    md = student_page(example, "ana", "md").read_text(encoding="utf-8")
    assert "**Your teacher's grade**" in md
    canvas = {r[0]: r for r in read_csv(example / "gradebook-canvas.csv")}
    column = read_csv(example / "gradebook-canvas.csv")[0].index(ana.card_id)
    assert canvas["ana"][column] == "0.6"
    rows = body_rows(example / "class-report.html", "review-table")
    assert any(r[0] == "ana" and "overridden by ms-k" in r[3] for r in rows)
    assert any("accepted by ms-k" in r[3] for r in rows)


# --- safety --------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
NASTY_IDS = ['=HYPERLINK("http://evil.example/x","click")', "+4412345", "-2+3", "@SUM(A1:A9)"]


@pytest.fixture(scope="module")
def nasty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A class whose answers and ids try HTML injection and spreadsheet formulas.

    Card 1 is worth 5 points here, so points and scores differ.
    """
    root = tmp_path_factory.mktemp("nasty")
    rubric = load_rubric(CNN_RUBRIC)
    cards = [
        c.model_copy(update={"max_points": 5.0}) if i == 0 else c
        for i, c in enumerate(rubric.cards)
    ]
    rubric_path = root / "rubric.yaml"
    save_rubric(Rubric(title=f"{rubric.title} {SCRIPT}", version=1, cards=cards), rubric_path)
    answers = [
        ("ana", "1", SCRIPT),
        ("ana", "2", f'The gradient points uphill. <img src=x onerror="alert(2)"> {SCRIPT}'),
        ("ben", "1", "=1+1"),
        ("ben", "2", "+SUM(1,2)"),
        ("ben", "3", "-2+3"),
        ("ben", "4", "@A1"),
        ("ben", "5", "\t=1+2"),
        ("ben", "6", "# not a heading\n- not a list\n[not a link](http://x.example)"),
    ]
    answers += [(sid, "1", f"Cross-entropy is the loss we minimise. {SCRIPT}") for sid in NASTY_IDS]
    answers += [(f"<marquee>{SCRIPT}</marquee>", "2", "The gradient says how the loss changes.")]
    submissions = root / "answers.csv"
    with submissions.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "card", "answer"])
        writer.writerows(answers)
    fill_store(
        root / "class.db",
        Grader(load_rubric(rubric_path), scorer="lexical"),
        rubric_path,
        submissions,
    )
    result = run("report", root / "class.db", "-o", root / "reports")
    assert result.exit_code == 0, result.output
    return root / "reports"


def test_student_text_is_escaped_in_html(nasty: Path) -> None:
    pages = [*nasty.glob("*.html"), *(nasty / "students").glob("*.html")]
    assert len(pages) >= 8
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert SCRIPT not in text and "<img" not in text and "<marquee>" not in text
        # our one table-sorting script, nothing else
        assert text.count("<script") == (0 if page.parent.name == "students" else 1)
    ana = student_page(nasty, "ana").read_text(encoding="utf-8")
    assert esc(SCRIPT) in ana
    report = (nasty / "class-report.html").read_text(encoding="utf-8")
    assert esc(f"<marquee>{SCRIPT}</marquee>") in report  # the student id, as text


def test_student_text_is_escaped_in_markdown(nasty: Path) -> None:
    for page in [nasty / "index.md", *(nasty / "students").glob("*.md")]:
        text = page.read_text(encoding="utf-8")
        assert "<script" not in text and "<img" not in text and "<marquee>" not in text
    ben = student_page(nasty, "ben", "md").read_text(encoding="utf-8")
    assert "> \\# not a heading" in ben and "> \\- not a list" in ben
    assert "\\[not a link\\](http://x.example)" in ben


def test_file_names_are_safe(nasty: Path) -> None:
    names = [p.name for p in (nasty / "students").iterdir()]
    assert len(names) == 2 * (2 + len(NASTY_IDS) + 1)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+\.(html|md)", n) for n in names)


def test_no_csv_cell_starts_a_formula(nasty: Path) -> None:
    for name in CSV_FILES:
        for row in read_csv(nasty / name):
            for cell in row:
                if name == "gradebook-moodle.csv" and cell == MOODLE_NO_GRADE:
                    continue  # Moodle's own no-grade marker: a lone minus is no formula
                assert not cell.startswith(FORMULA_START), (name, cell)
    ids = [r[0] for r in read_csv(nasty / "gradebook-moodle.csv")[1:]]
    for sid in NASTY_IDS:
        assert "'" + sid in ids
    answers = {r[5] for r in read_csv(nasty / "answers.csv")[1:]}
    assert {"'=1+1", "'+SUM(1,2)", "'-2+3", "'@A1", "'\t=1+2"} <= answers


def test_points_follow_max_points(nasty: Path) -> None:
    canvas = read_csv(nasty / "gradebook-canvas.csv")
    assert canvas[1][5] == "5"  # Points Possible of card 1
    possible = 5 + len(canvas[1][6:-2])
    for row in canvas[2:]:
        got = [float(c) for c in row[5:-2] if c]
        assert float(row[-2]) == pytest.approx(sum(got), abs=1e-9)
        assert float(row[-1]) == pytest.approx(100 * sum(got) / possible, abs=0.05)


def test_no_server_address_or_key_in_any_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, url = "sk-test-SECRETKEY123456", "http://127.0.0.1:9/v1"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    judge = JudgeSettings(
        model="judge-model",
        base_url=url,
        api_key=key,
        mode="always",
        max_retries=0,
        cache=False,
        timeout=2,
    )
    submissions = tmp_path / "answers.csv"
    submissions.write_text(
        "student_id,card,answer\n"
        "ana,1,It is the loss we minimise.\n"
        f"ben,1,My key is {key} and the server {url}\n",
        encoding="utf-8",
    )
    db = tmp_path / "class.db"
    with (
        Store.open(db) as store,
        Grader(load_rubric(CNN_RUBRIC), scorer="lexical", judge=judge) as g,
    ):
        run_batch(
            store,
            g,
            CNN_RUBRIC,
            submissions,
            settings={"judge": {"mode": "always", "model": "judge-model"}},
        )
    grades = store_grades(db)
    assert any(url in n for g in grades for n in g.notes)  # the store has it; reports must not
    result = run("report", db, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len(files) == 10
    for path in files:
        text = path.read_text(encoding="utf-8-sig")
        for secret in (key, url, "127.0.0.1", "SECRETKEY"):
            assert secret not in text, (path.name, secret)
    report = (tmp_path / "out" / "class-report.html").read_text(encoding="utf-8")
    assert "judge_failed: cannot reach the judge server at [server]" in report
    assert "always · judge-model" in report


# --- the command ---------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return fill_store(
        tmp_path / "class.db",
        Grader(load_rubric(CNN_RUBRIC), scorer="lexical"),
        CNN_RUBRIC,
        EXAMPLE_CLASS,
    )


def test_report_writes_everything_by_default(db: Path, tmp_path: Path) -> None:
    result = run("report", db, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "wrote 6 student reports, the class report, gradebooks" in " ".join(
        result.output.split()
    )
    assert len(list((tmp_path / "out").rglob("*.*"))) == 6 * 2 + 6


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("csv", {*CSV_FILES}),
        ("md", {"index.md", "students"}),
        ("html", {"index.html", "class-report.html", "students"}),
    ],
)
def test_one_format(db: Path, tmp_path: Path, fmt: str, expected: set[str]) -> None:
    result = run("report", db, "-o", tmp_path / "out", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "out").iterdir()} == expected
    if fmt != "csv":
        assert {p.suffix for p in (tmp_path / "out" / "students").iterdir()} == {f".{fmt}"}


def test_one_student(db: Path, tmp_path: Path) -> None:
    result = run("report", db, "-o", tmp_path / "out", "--student", "chloe")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.*")) == ["chloe.html", "chloe.md"]
    page = (tmp_path / "out" / "students" / "chloe.html").read_text(encoding="utf-8")
    assert "index.html" not in page  # nothing to link back to


def test_one_run(db: Path, tmp_path: Path) -> None:
    result = run("report", db, "-o", tmp_path / "out", "--run", "1", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert len(read_csv(tmp_path / "out" / "answers.csv")) == 91


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--student", "nobody"], 1, "no student 'nobody'"),
        (["--run", "7"], 1, "no run 7"),
        (["--format", "pdf"], 2, "use html, md, csv or all"),
        (["--format", "csv", "--student", "ana"], 2, "--student writes feedback pages"),
    ],
)
def test_usage_errors(db: Path, tmp_path: Path, args: list[str], code: int, message: str) -> None:
    result = run("report", db, "-o", tmp_path / "out", *args)
    assert result.exit_code == code
    assert message in " ".join(result.output.split())


def test_a_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    result = run("report", tmp_path / "nope.db")
    assert result.exit_code == 1
    assert "no such database" in result.output
    assert not (tmp_path / "nope.db").exists()


def test_without_the_rubric_file_cards_are_named_by_id(tmp_path: Path) -> None:
    rubric = tmp_path / "rubric.yaml"
    rubric.write_bytes(CNN_RUBRIC.read_bytes())
    db = fill_store(
        tmp_path / "class.db", Grader(load_rubric(rubric), scorer="lexical"), rubric, EXAMPLE_CLASS
    )
    rubric.unlink()
    result = run("report", db, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "rubric.yaml was not found" in " ".join(result.output.split())
    report = (tmp_path / "out" / "class-report.html").read_text(encoding="utf-8")
    assert "rubric.yaml was not found" in report and "same-conv" in report
    result = run("report", db, "-o", tmp_path / "out2", "--rubric", CNN_RUBRIC)
    assert result.exit_code == 0, result.output
    assert "not found" not in result.output


# --- units ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "judge_failed: cannot reach the judge server at http://10.0.0.5:11434/v1 (tried 3)",
            "judge_failed: cannot reach the judge server at [server] (tried 3)",
        ),
        ("timeout talking to localhost:8080", "timeout talking to [server]"),
        ("HTTP 401 for key sk-proj-abcDEF123456", "HTTP 401 for key [secret]"),
        ("api.openai.example:443 refused", "[server] refused"),
        ("covered 2 of 3 key points, 1 partly.", "covered 2 of 3 key points, 1 partly."),
    ],
)
def test_redact(text: str, kept: str) -> None:
    assert redact(text) == kept


def test_md_escape_leaves_nothing_to_interpret() -> None:
    assert md_escape("<b>x</b> & *y* [z](w) | `c`") == (
        "&lt;b&gt;x&lt;/b&gt; &amp; \\*y\\* \\[z\\](w) \\| \\`c\\`"
    )
    assert md_escape("1. one") == "1\\. one" and md_escape("- two") == "\\- two"


def test_slugs_are_safe_and_unique() -> None:
    slugs = _unique_slugs(["ana", "Ana", "../etc/passwd", "=cmd", "chloé", "s 1", "s-1"])
    assert slugs["ana"] != slugs["Ana"] and slugs["ana"].casefold() != slugs["Ana"].casefold()
    assert len({s.casefold() for s in slugs.values()}) == len(slugs)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", s) for s in slugs.values())
    assert slugs["chloé"].startswith("chloe-")


def _pts(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"
