"""Streaming submissions: bad rows become Problems with their row, and reading goes on."""

from __future__ import annotations

import dataclasses
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from examiner.errors import Problem, SubmissionsError
from examiner.formats.submissions import Record, iter_records, iter_submissions, text_value
from examiner.models import Submission


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def split(items: Iterator[Submission | Problem]) -> tuple[list[Submission], list[Problem]]:
    subs: list[Submission] = []
    problems: list[Problem] = []
    for item in items:
        (problems if isinstance(item, Problem) else subs).append(item)  # type: ignore[arg-type]
    return subs, problems


# --- records ---------------------------------------------------------------------------------


def test_csv_records_with_quotes_commas_and_newlines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.csv",
        'student_id,card,answer\r\ns1,1,"one, two"\r\ns2,2,"line one\r\nline ""two"""\r\n'
        "\r\ns3,3,plain\r\n",
    )
    records = list(iter_records(path))
    assert records == [
        Record(2, {"student_id": "s1", "card": "1", "answer": "one, two"}),
        Record(3, {"student_id": "s2", "card": "2", "answer": 'line one\r\nline "two"'}),
        Record(6, {"student_id": "s3", "card": "3", "answer": "plain"}),
    ]


def test_record_is_frozen() -> None:
    record = Record(1, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.row = 2  # type: ignore[misc]


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "\ufeffstudent_id,card,answer\ns1,c,x\n".encode())
    assert [s.student_id for s in iter_submissions(path)] == ["s1"]  # type: ignore[union-attr]
    path = write(
        tmp_path, "a.jsonl", '\ufeff{"student_id": "s", "card": "c", "answer": ""}\n'.encode()
    )
    assert [r.row for r in iter_records(path)] == [1]  # type: ignore[union-attr]


def test_malformed_csv_row_in_the_middle_is_reported_and_reading_goes_on(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.csv",
        'student_id,card,answer\ns1,1,ok\ns2,"2\nx",too,many\ns3,3\ns4,4,"still\nread"\ns5,5,last\n',
    )
    items = list(iter_records(path))
    assert [type(i).__name__ for i in items] == ["Record", "Problem", "Problem", "Record", "Record"]
    bad = [i for i in items if isinstance(i, Problem)]
    assert [(p.path, p.line) for p in bad] == [(str(path), 3), (str(path), 5)]
    assert "4 cells" in bad[0].message and "3 columns" in bad[0].message
    assert [i.row for i in items if isinstance(i, Record)] == [2, 6, 8]


def test_undecodable_bytes_cost_only_their_row(tmp_path: Path) -> None:
    csv_path = write(
        tmp_path, "a.csv", b"student_id,card,answer\ns1,1,ok\ns2,2,caf\xe9\ns3,3,fine\n"
    )
    items = list(iter_records(csv_path))
    assert isinstance(items[1], Problem) and items[1].line == 3
    assert "UTF-8" in items[1].message
    assert [i.row for i in items if isinstance(i, Record)] == [2, 4]

    quoted = write(tmp_path, "b.csv", b'student_id,card,answer\ns1,1,"a\n\xff"\ns2,2,b\n')
    items = list(iter_records(quoted))
    assert isinstance(items[0], Problem) and items[0].line == 2 and "line 3" in items[0].message
    assert isinstance(items[1], Record) and items[1].row == 4

    jsonl = write(tmp_path, "a.jsonl", b'{"a": 1}\n{"a": "\xff"}\n{"a": 3}\n')
    items = list(iter_records(jsonl))
    assert [getattr(i, "row", None) or getattr(i, "line", None) for i in items] == [1, 2, 3]
    assert isinstance(items[1], Problem)


def test_jsonl_bad_lines_and_non_objects(tmp_path: Path) -> None:
    path = write(tmp_path, "a.ndjson", '{"a": 1}\n\n{"a": \n[1, 2]\n"text"\n{"a": [1, {"b": 2}]}\n')
    items = list(iter_records(path))
    assert items[0] == Record(1, {"a": 1})
    assert [(p.line, p.message.split(":")[0]) for p in items[1:4]] == [  # type: ignore[union-attr]
        (3, "not valid JSON"),
        (4, "expected a JSON object, got an array"),
        (5, "expected a JSON object, got a string"),
    ]
    assert items[4] == Record(6, {"a": [1, {"b": 2}]})


def test_tsv_records(tmp_path: Path) -> None:
    path = write(tmp_path, "a.tsv", "student_id\tcard\tanswer\ns1\t1\ta, b\n")
    assert list(iter_records(path)) == [
        Record(2, {"student_id": "s1", "card": "1", "answer": "a, b"})
    ]


def test_file_level_problems_raise_when_the_iterator_is_created(tmp_path: Path) -> None:
    cases = {
        tmp_path / "missing.csv": "file not found",
        write(tmp_path, "a.txt", "x"): "unsupported file type '.txt'",
        write(tmp_path, "empty.csv", ""): "file is empty",
        write(tmp_path, "only-bom.csv", b"\xef\xbb\xbf"): "file is empty",
        write(tmp_path, "noheader.csv", "\ns1,1,x\n"): "no header",
        write(tmp_path, "dup.csv", "a,A\n1,2\n"): "appears twice",
    }
    for path, message in cases.items():
        with pytest.raises(SubmissionsError) as info:
            iter_records(path)  # no next(): the error comes before any reading
        assert message in str(info.value), path
        assert info.value.problems[0].path == str(path)
    with pytest.raises(SubmissionsError, match=r"\.csv, \.tsv, \.jsonl, \.ndjson"):
        iter_submissions(tmp_path / "answers")


def test_reading_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("student_id,card,answer\n")
        for i in range(20_000):
            handle.write(f"s{i},{i % 50},an answer of moderate length for row {i}\n")
    assert path.stat().st_size > 1_000_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_records(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000
    assert peak < 300_000


# --- submissions -----------------------------------------------------------------------------


def test_csv_submissions_keep_answers_verbatim_and_strip_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.csv",
        'Student_ID,Card,Answer\n s1 , kernel ,"  two\nlines  "\ns2,2,\n',
    )
    subs, problems = split(iter_submissions(path))
    assert problems == []
    assert subs == [
        Submission(student_id="s1", card="kernel", answer="  two\nlines  ", row=2),
        Submission(student_id="s2", card="2", answer="", row=4),
    ]


def test_question_id_and_answer_id_aliases(tmp_path: Path) -> None:
    rows = [
        {"question_id": "1.1", "answer_id": "1.1.0", "answer": "x", "score": 3.5},
        {"card_id": 2, "student_id": "s9", "answer_id": 17, "answer": 4},
    ]
    path = write(tmp_path, "a.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    subs, problems = split(iter_submissions(path))
    assert problems == []
    assert subs == [
        Submission(student_id="1.1.0", card="1.1", answer="x", row=1, answer_id="1.1.0"),
        Submission(student_id="s9", card="2", answer="4", row=2, answer_id="17"),
    ]


def test_rows_missing_fields_are_problems_naming_row_and_field(tmp_path: Path) -> None:
    lines = [
        {"student_id": "s1", "card": "c", "answer": "ok"},
        {"student_id": "s2", "answer": "no card"},
        {"card": "c", "answer": "no student"},
        {"student_id": "s4", "card": "c"},
        {"student_id": "s5", "card": "c", "answer": None},
        {"student_id": " ", "card": [1], "answer": "bad"},
        {"student_id": "s7", "card": "c", "answer": ""},
    ]
    path = write(tmp_path, "a.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    subs, problems = split(iter_submissions(path))
    assert [(s.student_id, s.row) for s in subs] == [("s1", 1), ("s7", 7)]
    assert subs[1].answer == ""
    assert [(p.line, p.field) for p in problems] == [
        (2, "card"),
        (3, "student_id"),
        (4, "answer"),
        (5, "answer"),
        (6, "card"),
        (6, "student_id"),
    ]
    assert "got an array" in problems[4].message
    assert all(p.path == str(path) for p in problems)


def test_csv_header_without_required_columns_raises_once(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "name,text\nbob,hi\n")
    with pytest.raises(SubmissionsError) as info:
        iter_submissions(path)
    assert [(p.line, p.field) for p in info.value.problems] == [
        (1, "card"),
        (1, "student_id"),
        (1, "answer"),
    ]


def test_submission_problems_pass_through_and_reading_goes_on(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "answer_id,question_id,answer\na1,1,x\na2,1\na3,2,z\n")
    subs, problems = split(iter_submissions(path))
    assert [(s.answer_id, s.card, s.row) for s in subs] == [("a1", "1", 2), ("a3", "2", 4)]
    assert [p.line for p in problems] == [3]


def test_text_value() -> None:
    assert text_value(None) is None
    assert text_value(" a ") == " a "
    assert text_value(3) == "3"
    assert text_value(2.0) == "2"
    assert text_value(1.1) == "1.1"
    for bad in (True, [1], {"a": 1}):
        with pytest.raises(TypeError):
            text_value(bad)
