"""Deck loading: every format, and errors that name the file, the line and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from examiner.errors import DeckError, Problem
from examiner.formats.decks import load_deck
from examiner.models import Deck
from tests.conftest import SHARED

LESSON3 = SHARED / "seeds" / "lesson3-cnn-flashcards.txt"
MOHLER_DEV = SHARED / "datasets" / "mohler" / "mohler_dev.jsonl"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(DeckError) as info:
        load_deck(path)
    for problem in info.value.problems:
        assert problem.path == str(path)
    return info.value.problems


def qa(deck: Deck) -> list[tuple[str, str]]:
    return [(card.question, card.reference_answer) for card in deck.cards]


# --- lesson text -----------------------------------------------------------------------------


@pytest.mark.skipif(not LESSON3.exists(), reason="shared seed deck not available")
def test_lesson3_seed_has_15_cards_with_verbatim_answers() -> None:
    deck = load_deck(LESSON3)
    assert len(deck.cards) == 15
    assert deck.title == "Lesson 3 - Convolutional Neural Networks Flashcards"
    assert len({card.id for card in deck.cards}) == 15
    relu = deck.cards[3]
    assert relu.question.startswith("ReLU allows us")
    assert relu.question.endswith("for example Sigmoid?")
    assert relu.reference_answer.count("\n") == 1
    visual = deck.cards[4]
    assert visual.reference_answer.splitlines()[0] == (
        "- Locality: neighboring pixels are highly correlated"
    )
    assert len(visual.reference_answer.splitlines()) == 3
    assert deck.cards[2].reference_answer.endswith("again\n= overfitting")
    assert deck.cards[-1].reference_answer.endswith("Sizes are equal")


def test_lesson_format_title_multiline_answers_and_slugs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "deck.txt",
        "My Lesson\n\n"
        "What is a kernel?\n\n"
        "A small weight matrix.\n"
        "  - slides over the input\n"
        "  - shares weights\n\n\n"
        "Why pool? What does it buy?\n"
        "Invariance to small shifts.\n",
    )
    deck = load_deck(path)
    assert deck.title == "My Lesson"
    assert deck.source == str(path)
    assert qa(deck) == [
        (
            "What is a kernel?",
            "A small weight matrix.\n  - slides over the input\n  - shares weights",
        ),
        ("Why pool? What does it buy?", "Invariance to small shifts."),
    ]
    assert [card.id for card in deck.cards] == ["kernel", "pool-buy"]


def test_lesson_without_title_and_crlf_and_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "deck.txt", b"\xef\xbb\xbfWhat is ReLU?\r\nmax(0, x)\r\n")
    deck = load_deck(path)
    assert deck.title == ""
    assert qa(deck) == [("What is ReLU?", "max(0, x)")]


def test_lesson_question_without_answer_is_reported_with_line(tmp_path: Path) -> None:
    path = write(tmp_path, "deck.txt", "Title\nWhat is A?\nWhat is B?\nB.\nWhat is C?\n\n")
    problems = problems_of(path)
    assert [(p.line, p.field) for p in problems] == [(2, "answer"), (5, "answer")]
    assert "no answer" in problems[0].message
    assert str(problems[0]).startswith(f"{path}:2 [answer]:")


def test_lesson_without_questions_has_no_cards(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "deck.txt", "Just a title\nand some text.\n"))
    assert "no cards" in problems[0].message
    assert "'?'" in problems[0].message


@pytest.mark.parametrize("content", [b"", b"\n  \n", b"\xef\xbb\xbf"])
def test_empty_file_is_an_error(tmp_path: Path, content: bytes) -> None:
    problems = problems_of(write(tmp_path, "deck.txt", content))
    assert problems[0].message == "file is empty"


def test_undecodable_lines_are_each_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "deck.txt", b"What is A?\nA \xff.\nWhat is B?\nB \xc3(\n")
    problems = problems_of(path)
    assert [p.line for p in problems] == [2, 4]
    assert "UTF-8" in problems[0].message


def test_duplicate_questions_get_suffixed_slugs(tmp_path: Path) -> None:
    path = write(tmp_path, "deck.txt", "What is X?\nOne.\nWhat is X?\nTwo.\nWhat is X?\nThree.\n")
    assert [card.id for card in load_deck(path).cards] == ["x", "x-2", "x-3"]


# --- Markdown --------------------------------------------------------------------------------


def test_markdown_headings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "deck.md",
        "# CNN basics\n\nSome intro.\n\n"
        "## What is padding?\n\n"
        "Adding values around the border.\n\n"
        "### Why\n- keeps the size\n\n"
        "```python\n# not a heading\n## nor this\n```\n"
        "## What is a stride? ##\n"
        "The step of the kernel.\n",
    )
    deck = load_deck(path)
    assert deck.title == "CNN basics"
    assert qa(deck) == [
        (
            "What is padding?",
            "Adding values around the border.\n\n### Why\n- keeps the size\n\n"
            "```python\n# not a heading\n## nor this\n```",
        ),
        ("What is a stride?", "The step of the kernel."),
    ]


def test_markdown_heading_without_answer(tmp_path: Path) -> None:
    path = write(tmp_path, "deck.markdown", "# T\n## Q one\n\n## Q two\nanswer\n")
    problems = problems_of(path)
    assert [(p.line, p.field) for p in problems] == [(2, "answer")]


def test_markdown_q_and_a_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "deck.md",
        "# Deck\n\n"
        "Q: What is a filter?\n"
        "A: A learned kernel.\n"
        "It detects one feature.\n\n"
        "**Q:** Name two\n"
        "activation functions.\n"
        "**A:**\n"
        "- ReLU\n"
        "- tanh\n",
    )
    deck = load_deck(path)
    assert deck.title == "Deck"
    assert qa(deck) == [
        ("What is a filter?", "A learned kernel.\nIt detects one feature."),
        ("Name two activation functions.", "- ReLU\n- tanh"),
    ]


def test_markdown_q_without_a_and_a_without_q(tmp_path: Path) -> None:
    path = write(tmp_path, "deck.md", "A: stray\nQ: first?\nQ: second?\nA: yes\n")
    problems = problems_of(path)
    assert [(p.line, p.field) for p in problems] == [(1, None), (2, "answer")]
    assert "'A:' line without a 'Q:'" in problems[0].message


def test_markdown_without_cards(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "deck.md", "# Only a title\n\ntext\n"))
    assert "no cards" in problems[0].message


# --- CSV / TSV / Anki ------------------------------------------------------------------------


def test_csv_with_quotes_commas_and_newlines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "deck.csv",
        'id,question,answer\n q1 ,"What is a CNN, briefly?","A network\nwith ""convolutions"""\n'
        ",What is pooling?,Downsampling\n",
    )
    deck = load_deck(path)
    assert [(c.id, c.question, c.reference_answer) for c in deck.cards] == [
        ("q1", "What is a CNN, briefly?", 'A network\nwith "convolutions"'),
        ("pooling", "What is pooling?", "Downsampling"),
    ]


def test_csv_header_case_and_optional_id(tmp_path: Path) -> None:
    deck = load_deck(write(tmp_path, "deck.csv", "Question,Answer\nWhat is x?,y\n"))
    assert [(c.id, c.reference_answer) for c in deck.cards] == [("x", "y")]


def test_csv_missing_column(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "deck.csv", "id,question\n1,What?\n"))
    assert [p.line for p in problems] == [1]
    assert "missing column 'reference_answer' or 'answer' or 'back'" in problems[0].message


def test_csv_without_header(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "deck.csv", "What is x?,y\n"))
    assert problems[0].line == 1
    assert "no header" in problems[0].message


def test_csv_row_problems_are_all_reported_with_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "deck.csv",
        "id,question,answer\n"
        "a,What is a?,\n"  # 2: no answer
        'b,"multi\nline",ok\n'  # 3-4: fine
        "c,only two\n"  # 5: wrong cell count
        ",,x\n"  # 6: no question
        "b,What is b?,other\n",  # 7: id b already used for something else
    )
    problems = problems_of(path)
    assert [(p.line, p.field) for p in problems] == [
        (2, "answer"),
        (5, None),
        (6, "question"),
        (7, "id"),
    ]
    assert "line 3" in problems[3].message


def test_graded_data_set_as_deck_merges_rows_per_question(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "graded.csv",
        "question_id,question,reference_answer,answer_id,answer,score\n"
        "1.1,What is X?,X is a thing.,1.1.0,student says,3\n"
        "1.1,What is X?,X is a thing.,1.1.1,another,5\n"
        "2,What is Y?,Y.,2.0,y,1\n",
    )
    deck = load_deck(path)
    assert [(c.id, c.question, c.reference_answer) for c in deck.cards] == [
        ("1.1", "What is X?", "X is a thing."),
        ("2", "What is Y?", "Y."),
    ]


def test_graded_data_set_with_conflicting_reference(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "graded.jsonl",
        '{"question_id": "1", "question": "Q?", "reference_answer": "R", "answer": "s"}\n'
        '{"question_id": "1", "question": "Q?", "reference_answer": "other", "answer": "s"}\n',
    )
    problems = problems_of(path)
    assert [(p.line, p.field) for p in problems] == [(2, "id")]


def test_tsv_with_header(tmp_path: Path) -> None:
    deck = load_deck(write(tmp_path, "deck.tsv", "id\tquestion\tanswer\nk\tWhat, is k?\tkernel\n"))
    assert [(c.id, c.question) for c in deck.cards] == [("k", "What, is k?")]


def test_anki_export_without_header_and_with_html(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "anki.tsv",
        "What is ReLU?\tmax(0, x)<br>cheap &amp; simple\n"
        "<b>Pooling</b>?\t<div>reduces size</div><div>adds invariance</div>\n",
    )
    deck = load_deck(path)
    assert qa(deck) == [
        ("What is ReLU?", "max(0, x)\ncheap & simple"),
        ("Pooling?", "reduces size\nadds invariance"),
    ]


def test_anki_export_with_hash_header_lines(tmp_path: Path) -> None:
    text = (
        "#separator:tab\n#html:true\n#tags column:3\n"
        "Front one\tBack one&nbsp;here\ttag1\n"
        "Front two\tBack two\t\n"
    )
    for name in ("anki.txt", "anki.csv"):
        deck = load_deck(write(tmp_path, name, text))
        assert qa(deck) == [("Front one", "Back one here"), ("Front two", "Back two")]


def test_anki_guid_and_notetype_columns_are_skipped(tmp_path: Path) -> None:
    text = "#separator:tab\n#guid column:1\n#notetype column:2\nabc\tBasic\tFront\tBack\n"
    assert qa(load_deck(write(tmp_path, "anki.txt", text))) == [("Front", "Back")]


def test_anki_row_with_one_field(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "anki.tsv", "front\tback\nlonely\n"))
    assert [p.line for p in problems] == [2]


# --- JSON / JSONL ----------------------------------------------------------------------------


def test_json_list_with_numeric_ids(tmp_path: Path) -> None:
    cards = [
        {"id": 1, "question": "What is A?", "answer": "A.\n- one\n- two"},
        {"question": "What is B?", "answer": "B."},
    ]
    deck = load_deck(write(tmp_path, "deck.json", json.dumps(cards)))
    assert [(c.id, c.reference_answer) for c in deck.cards] == [
        ("1", "A.\n- one\n- two"),
        ("b", "B."),
    ]


def test_json_object_with_title_and_cards(tmp_path: Path) -> None:
    document = {"title": "Deck T", "version": 2, "cards": [{"question": "Q?", "answer": "R"}]}
    deck = load_deck(write(tmp_path, "deck.json", json.dumps(document, indent=2)))
    assert deck.title == "Deck T"
    assert qa(deck) == [("Q?", "R")]


def test_json_problems_cite_the_line_of_the_card(tmp_path: Path) -> None:
    document = {
        "title": "T",
        "cards": [
            {"question": "Fine?", "answer": "yes"},
            {"question": "No answer?"},
            "not an object",
            {"question": ["a", "list"], "answer": "x"},
        ],
    }
    problems = problems_of(write(tmp_path, "deck.json", json.dumps(document, indent=2)))
    assert [(p.line, p.field) for p in problems] == [(8, "answer"), (11, None), (12, "question")]


def test_bad_json_reports_its_line(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "deck.json", '[\n  {"question": "Q?",\n  oops\n]\n'))
    assert [p.line for p in problems] == [3]
    assert "not valid JSON" in problems[0].message


def test_json_object_without_cards(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "deck.json", '{"title": "T"}'))
    assert problems[0].field == "cards"


def test_jsonl_blank_lines_bad_line_and_duplicates(tmp_path: Path) -> None:
    good = write(
        tmp_path,
        "deck.jsonl",
        '{"id": 7, "question": "Q1?", "answer": "A1"}\n\n{"question": "Q2?", "answer": 42}\n',
    )
    assert [(c.id, c.reference_answer) for c in load_deck(good).cards] == [
        ("7", "A1"),
        ("q2", "42"),
    ]
    bad = write(
        tmp_path,
        "bad.jsonl",
        '{"question": "Q1?", "answer": "A1"}\n{"question": \n[1, 2]\n'
        '{"id": "x", "question": "Q3?", "answer": "A"}\n'
        '{"id": "x", "question": "Q4?", "answer": "B"}\n',
    )
    problems = problems_of(bad)
    assert [p.line for p in problems] == [2, 3, 5]
    assert "not valid JSON" in problems[0].message


@pytest.mark.skipif(not MOHLER_DEV.exists(), reason="shared Mohler data set not available")
def test_mohler_dev_loads_as_37_cards() -> None:
    deck = load_deck(MOHLER_DEV)
    assert len(deck.cards) == 37
    assert deck.cards[0].id == "1.1"
    assert deck.cards[0].reference_answer.startswith("To simulate")


# --- files -----------------------------------------------------------------------------------


def test_unsupported_extension_and_missing_file(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "deck.docx", "x"))
    assert ".txt" in problems[0].message and ".jsonl" in problems[0].message
    problems = problems_of(tmp_path / "nope.txt")
    assert problems[0].message == "file not found"
    assert problems[0].line is None


def test_str_path_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "deck.txt", "Q?\nA\n")
    assert load_deck(str(path)).source == str(path)
