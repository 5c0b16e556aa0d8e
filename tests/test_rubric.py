"""Rubric files: round trips, located validation problems, and drafting from decks.

Teachers edit these files by hand, so the tests pin down that each mistake is
reported at the right line and field, and that a draft is stable and valid.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from examiner.errors import Problem, RubricError
from examiner.models import Card, Deck, KeyPoint, Misconception, Rubric, RubricCard
from examiner.rubric import (
    MAX_KEY_POINTS,
    build_rubric,
    check_rubric,
    check_rubric_text,
    draft_key_points,
    load_rubric,
    parse_rubric,
    rubric_to_yaml,
    save_rubric,
)
from tests.conftest import SHARED

ROOT = Path(__file__).resolve().parents[1]
LESSON_RUBRIC = ROOT / "rubrics" / "cnn-lesson3.yaml"
MOHLER = SHARED / "datasets" / "mohler" / "mohler_dev.jsonl"


def write(tmp_path: Path, text: str, name: str = "rubric.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def only_problem(tmp_path: Path, text: str) -> Problem:
    problems = check_rubric(write(tmp_path, text))
    assert len(problems) == 1, problems
    return problems[0]


def sample_rubric() -> Rubric:
    return Rubric(
        title="Lesson 3 – CNNs",
        version="2",
        cards=[
            RubricCard(
                id="1.1",
                question="What is SAME convolution?",
                reference_answer="Kernel evaluated (centered) at every location\nSizes are equal",
                max_points=2.0,
                key_points=[
                    KeyPoint(id="centered", text="Kernel centred at every input location"),
                    KeyPoint(
                        id="1.2",
                        text="Output size equals input size ŷ",
                        weight=2.5,
                        alternatives=["Input and output have the same size"],
                    ),
                ],
                misconceptions=[
                    Misconception(id="smaller", text="The output is smaller", penalty=0.5),
                    Misconception(
                        id="larger",
                        text="The output is larger",
                        correction="Sizes are equal",
                        alternatives=["Output grows"],
                    ),
                ],
            ),
            RubricCard(
                id="yes",
                question="Why flatten?",
                key_points=[KeyPoint(id="k", text="Line one\nline two")],
            ),
        ],
    )


VALID = """
title: Demo
version: 1
cards:
  - id: c1
    question: What is a kernel?
    key_points:
      - id: k1
        text: A small matrix of weights slid over the input
        weight: 1.0
"""


# ---------------------------------------------------------------------------
# Saving and loading
# ---------------------------------------------------------------------------


def test_round_trip(tmp_path: Path) -> None:
    rubric = sample_rubric()
    path = tmp_path / "sub" / "r.yaml"
    save_rubric(rubric, path)
    assert load_rubric(path) == rubric
    assert check_rubric(path) == []


def test_saved_file_is_short_and_readable(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    save_rubric(sample_rubric(), path)
    text = path.read_text(encoding="utf-8")
    assert "alternatives: []" not in text
    assert "misconceptions: []" not in text
    assert "correction: ''" not in text
    assert "misconceptions" in text  # kept where there are some
    assert "reference_answer: |" in text  # multi-line text as a block
    assert "id: '1.1'" in text  # a float-looking id stays a string
    assert "ŷ" in text and "–" in text  # unicode written as is
    assert text.index("title:") < text.index("version:") < text.index("cards:")


def test_yaml_text_round_trip_and_load_equals_parse(tmp_path: Path) -> None:
    rubric = sample_rubric()
    assert parse_rubric(rubric_to_yaml(rubric)) == rubric
    assert load_rubric(write(tmp_path, VALID)) == parse_rubric(textwrap.dedent(VALID))


def test_valid_file_has_no_problems(tmp_path: Path) -> None:
    assert check_rubric(write(tmp_path, VALID)) == []
    assert check_rubric_text(textwrap.dedent(VALID)) == []


def test_unquoted_ids_and_text_stay_as_typed(tmp_path: Path) -> None:
    rubric = load_rubric(
        write(
            tmp_path,
            """
            version: 1.2
            cards:
              - id: 1.10
                question: Is it?
                key_points:
                  - id: 2
                    text: yes
                    alternatives: [1.5, no]
            """,
        )
    )
    card = rubric.cards[0]
    assert card.id == "1.10"
    assert rubric.version == "1.2"
    assert card.key_points[0].id == "2"
    assert card.key_points[0].text == "yes"
    assert card.key_points[0].alternatives == ["1.5", "no"]


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + textwrap.dedent(VALID).encode())
    assert load_rubric(path).title == "Demo"


# ---------------------------------------------------------------------------
# Validation problems, each with its line and field
# ---------------------------------------------------------------------------

CASES = {
    "unknown field with suggestion": (
        """
        cards:
          - id: c1
            question: Q?
            key_points:
              - id: k1
                text: t
                wieght: 2
        """,
        7,
        "cards[0].key_points[0].wieght",
        "unknown field 'wieght' (did you mean 'weight'?)",
    ),
    "unknown field without suggestion": (
        """
        title: T
        colour: blue
        cards:
          - id: c1
            question: Q?
            key_points: [{id: k, text: t}]
        """,
        2,
        "colour",
        "unknown field 'colour' (allowed: title, version, cards)",
    ),
    "missing field at its parent": (
        """
        cards:
          - id: c1
            key_points:
              - id: k1
                text: t
        """,
        2,
        "cards[0].question",
        "missing required field 'question'",
    ),
    "missing key points": (
        """
        cards:
          - id: c1
            question: Q?
        """,
        2,
        "cards[0].key_points",
        "missing required field 'key_points' (every card needs at least one key point)",
    ),
    "empty key points": (
        """
        cards:
          - id: c1
            question: Q?
            key_points: []
        """,
        4,
        "cards[0].key_points",
        "key_points must not be empty",
    ),
    "zero weight": (
        """
        cards:
          - id: c1
            question: Q?
            key_points:
              - id: k1
                text: t
              - id: k2
                text: u
                weight: 0
        """,
        9,
        "cards[0].key_points[1].weight",
        "weight must be greater than 0",
    ),
    "negative weight": (
        """
        cards:
          - id: c1
            question: Q?
            key_points:
              - {id: k1, text: t, weight: -1}
        """,
        5,
        "cards[0].key_points[0].weight",
        "weight must be greater than 0",
    ),
    "weight not a number": (
        """
        cards:
          - id: c1
            question: Q?
            key_points:
              - id: k1
                text: t
                weight: heavy
        """,
        7,
        "cards[0].key_points[0].weight",
        "weight must be a number, not 'heavy'",
    ),
    "penalty above 1": (
        """
        cards:
          - id: c1
            question: Q?
            key_points: [{id: k, text: t}]
            misconceptions:
              - id: m1
                text: wrong
                penalty: 1.5
        """,
        8,
        "cards[0].misconceptions[0].penalty",
        "penalty must be at most 1",
    ),
    "penalty zero": (
        """
        cards:
          - id: c1
            question: Q?
            key_points: [{id: k, text: t}]
            misconceptions:
              - id: m1
                text: wrong
                penalty: 0
        """,
        8,
        "cards[0].misconceptions[0].penalty",
        "penalty must be greater than 0",
    ),
    "empty text": (
        """
        cards:
          - id: c1
            question: Q?
            key_points:
              - id: k1
                text: "  "
        """,
        6,
        "cards[0].key_points[0].text",
        "text must not be empty",
    ),
    "null text": (
        """
        cards:
          - id: c1
            question: Q?
            key_points:
              - id: k1
                text:
        """,
        6,
        "cards[0].key_points[0].text",
        "text must not be empty",
    ),
    "duplicate key point id": (
        """
        cards:
          - id: c1
            question: Q?
            key_points:
              - id: k1
                text: t
              - id: k1
                text: u
        """,
        7,
        "cards[0].key_points[1].id",
        "duplicate key point id 'k1' (already used on line 5)",
    ),
    "duplicate misconception id": (
        """
        cards:
          - id: c1
            question: Q?
            key_points: [{id: k, text: t}]
            misconceptions:
              - id: m
                text: wrong
              - id: m
                text: also wrong
        """,
        8,
        "cards[0].misconceptions[1].id",
        "duplicate misconception id 'm'",
    ),
    "duplicate yaml key": (
        """
        cards:
          - id: c1
            question: Q?
            question: Q2?
            key_points: [{id: k, text: t}]
        """,
        4,
        "cards[0].question",
        "duplicate key 'question' (also on line 3)",
    ),
    "card is not a mapping": (
        """
        cards:
          - just text
        """,
        2,
        "cards[0]",
        "must be a mapping of fields",
    ),
    "cards is not a list": (
        """
        title: T
        cards: 3
        """,
        2,
        "cards",
        "cards must be a list",
    ),
    "top level is a list": (
        """
        - id: c1
        """,
        1,
        None,
        "must be a YAML mapping",
    ),
    "syntax error": (
        """
        title: T
        cards:
          - id: c1
            question: What: is this?
        """,
        4,
        None,
        "YAML syntax error",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_problem_is_located(tmp_path: Path, case: tuple[str, int, str | None, str]) -> None:
    text, line, field, message = case
    problem = only_problem(tmp_path, text)
    assert problem.line == line, problem
    assert problem.field == field, problem
    assert message in problem.message, problem
    assert problem.path == str(tmp_path / "rubric.yaml")


def test_every_duplicate_card_is_reported_at_its_own_line(tmp_path: Path) -> None:
    text = """
    cards:
      - id: c1
        question: A?
        key_points: [{id: k, text: t}]
      - id: c1
        question: B?
        key_points: [{id: k, text: t}]
      - id: c1
        question: C?
        key_points: [{id: k, text: t}]
    """
    problems = check_rubric(write(tmp_path, text))
    assert [(p.line, p.field) for p in problems] == [(5, "cards[1].id"), (8, "cards[2].id")]
    assert all("duplicate card id 'c1' (already used on line 2)" in p.message for p in problems)


def test_several_problems_reported_at_once_in_file_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        title: Demo
        cards:
          - id: c1
            question: Q?
            key_points:
              - id: k1
                text: t
                weight: 0
          - id: c1
            question:
            key_points: []
            misconceptions:
              - {id: m, text: wrong, penalty: 2, corection: x}
        """,
    )
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    found = [(p.line, p.field) for p in caught.value.problems]
    assert found == [
        (8, "cards[0].key_points[0].weight"),
        (9, "cards[1].id"),
        (10, "cards[1].question"),
        (11, "cards[1].key_points"),
        (13, "cards[1].misconceptions[0].penalty"),
        (13, "cards[1].misconceptions[0].corection"),
    ]
    assert "did you mean 'correction'?" in caught.value.problems[-1].message
    assert str(caught.value).startswith(f"{path}:8 [cards[0].key_points[0].weight]")
    assert "(and 5 more)" in str(caught.value)


def test_check_rubric_matches_load_rubric(tmp_path: Path) -> None:
    path = write(tmp_path, CASES["zero weight"][0])
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    assert check_rubric(path) == caught.value.problems


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "the file is empty"), ("# only a comment\n", "the file is empty")],
)
def test_empty_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(text, encoding="utf-8")
    [problem] = check_rubric(path)
    assert message in problem.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="file not found"):
        load_rubric(tmp_path / "nope.yaml")


def test_missing_cards_at_top(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "title: Demo\n")
    assert (problem.line, problem.field) == (1, "cards")
    assert "missing required field 'cards'" in problem.message


# ---------------------------------------------------------------------------
# Drafting a rubric from a deck
# ---------------------------------------------------------------------------


def deck_of(*answers: str) -> Deck:
    cards = [
        Card(id=f"c{i}", question=f"Question {i}?", reference_answer=a)
        for i, a in enumerate(answers)
    ]
    return Deck(title="Test deck", source="test.txt", cards=cards)


def texts(rubric: Rubric, card: int = 0) -> list[str]:
    return [p.text for p in rubric.cards[card].key_points]


def test_bullets_give_one_key_point_each() -> None:
    rubric = build_rubric(
        deck_of(
            "- Locality: neighboring pixels are highly correlated\n"
            "- Translation Invariance: meaningful patterns can appear anywhere\n"
            "* Compositionality: learning feature hierarchies\n"
            "1. Pooling summarises a neighbourhood. It also adds invariance."
        )
    )
    assert texts(rubric) == [
        "Locality: neighboring pixels are highly correlated",
        "Translation invariance: meaningful patterns can appear anywhere",
        "Compositionality: learning feature hierarchies",
        "Pooling summarises a neighbourhood. It also adds invariance.",
    ]


def test_arrows_become_term_and_statement() -> None:
    rubric = build_rubric(
        deck_of(
            "- Valid Convolution -> every considered point lies within the input\n"
            "- Strided Convolution -> sparser kernel evaluations\n"
            "ReLU Activation → avoids saturating gradients"
        )
    )
    assert texts(rubric) == [
        "Valid convolution: every considered point lies within the input",
        "Strided convolution: sparser kernel evaluations",
        "ReLU activation: avoids saturating gradients",
    ]


def test_definitions_and_headings() -> None:
    rubric = build_rubric(
        deck_of(
            "Locally Connected Layers\n"
            "Locally Connected Layer: each neuron sees a local region. Weights are not shared.\n"
            "Convolutional Layers\n"
            "Weight Sharing: one filter slides across the entire input."
        )
    )
    assert texts(rubric) == [
        "Locally connected layer: each neuron sees a local region. Weights are not shared.",
        "Weight sharing: one filter slides across the entire input.",
    ]


def test_sentences_split_and_short_ones_merged() -> None:
    rubric = build_rubric(
        deck_of(
            "Kernel evaluated (centered) at every location of the input\n"
            "Sizes are equal\n"
            "When we see that the loss of training is increasing again\n"
            "= overfitting\n"
            "Points outside the input are undefined. Therefore padding is needed. OK."
        )
    )
    assert texts(rubric) == [
        "Kernel evaluated (centered) at every location of the input; sizes are equal",
        "When we see that the loss of training is increasing again = overfitting",
        "Points outside the input are undefined.",
        "Therefore padding is needed. OK.",
    ]


def test_short_first_sentence_joins_the_next() -> None:
    assert draft_key_points("Not quite. The gradient vanishes in saturated regions.") == [
        "Not quite. The gradient vanishes in saturated regions."
    ]


def test_one_line_answers_keep_the_whole_answer() -> None:
    rubric = build_rubric(deck_of("By reference.", "File scope.", "Unlimited number."))
    assert [texts(rubric, i) for i in range(3)] == [
        ["By reference."],
        ["File scope."],
        ["Unlimited number."],
    ]
    assert rubric.cards[0].key_points[0].id == "reference"


def test_at_most_five_most_content_bearing_points_in_order() -> None:
    answer = "\n".join(
        [
            "- Alpha beta gamma",
            "- Delta epsilon zeta eta theta iota",
            "- Kappa lambda",
            "- Mu nu xi omicron",
            "- Pi rho sigma tau upsilon",
            "- Phi chi",
            "- Psi omega alpha beta gamma delta epsilon",
        ]
    )
    points = draft_key_points(answer)
    assert len(points) == MAX_KEY_POINTS
    assert points == [
        "Alpha beta gamma",
        "Delta epsilon zeta eta theta iota",
        "Mu nu xi omicron",
        "Pi rho sigma tau upsilon",
        "Psi omega alpha beta gamma delta epsilon",
    ]


def test_ids_are_slugs_unique_within_a_card() -> None:
    rubric = build_rubric(
        deck_of(
            "- Gradient descent follows the negative gradient\n"
            "- Gradient descent follows the negative gradient slowly\n"
            "- Gradient descent follows the negative gradient quickly"
        )
    )
    ids = [p.id for p in rubric.cards[0].key_points]
    assert ids == [
        "gradient-descent-follows-negative",
        "gradient-descent-follows-negative-2",
        "gradient-descent-follows-negative-3",
    ]


def test_card_fields_copied_and_defaults() -> None:
    deck = deck_of("The output of a kernel slid over the input.", "- Pooling reduces size")
    rubric = build_rubric(deck)
    assert rubric.title == "Test deck"
    assert build_rubric(deck, title="Lesson").title == "Lesson"
    for card, source in zip(rubric.cards, deck.cards, strict=True):
        assert (card.id, card.question, card.reference_answer) == (
            source.id,
            source.question,
            source.reference_answer,
        )
        assert card.misconceptions == []
        assert all(p.weight == 1.0 for p in card.key_points)


def test_build_is_deterministic_and_saves(tmp_path: Path) -> None:
    answers = (
        "Sigmoid saturates at both extremes\nA gradient of 0 gives no information to update.",
        "- Valid Convolution -> every considered point lies within the input",
    )
    first, second = build_rubric(deck_of(*answers)), build_rubric(deck_of(*answers))
    assert first == second
    assert rubric_to_yaml(first) == rubric_to_yaml(second)
    save_rubric(first, tmp_path / "draft.yaml")
    assert load_rubric(tmp_path / "draft.yaml") == first


def test_card_without_reference_answer_is_refused() -> None:
    deck = Deck(cards=[Card(id="a", question="Q?", reference_answer="  ")])
    with pytest.raises(RubricError) as caught:
        build_rubric(deck)
    assert caught.value.problems[0].field == "cards[0].reference_answer"


@pytest.mark.skipif(not MOHLER.exists(), reason="shared Mohler data set not available")
def test_build_from_mohler_references(tmp_path: Path) -> None:
    cards: dict[str, Card] = {}
    for line in MOHLER.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        cards.setdefault(
            row["question_id"],
            Card(
                id=row["question_id"],
                question=row["question"],
                reference_answer=row["reference_answer"],
            ),
        )
    rubric = build_rubric(Deck(title="Mohler", cards=list(cards.values())))
    assert len(rubric.cards) == 37
    assert all(1 <= len(c.key_points) <= MAX_KEY_POINTS for c in rubric.cards)
    assert rubric.card("1.1").id == "1.1"
    save_rubric(rubric, tmp_path / "mohler.yaml")
    assert load_rubric(tmp_path / "mohler.yaml") == rubric


# ---------------------------------------------------------------------------
# The shipped lesson rubric
# ---------------------------------------------------------------------------


def test_lesson_rubric_loads() -> None:
    rubric = load_rubric(LESSON_RUBRIC)
    assert len(rubric.cards) == 15
    for card in rubric.cards:
        assert 2 <= len(card.key_points) <= 5, card.id


LESSON_DECK = SHARED / "seeds" / "lesson3-cnn-flashcards.txt"


@pytest.mark.skipif(not LESSON_DECK.exists(), reason="shared lesson deck not available")
def test_build_from_lesson_deck(tmp_path: Path) -> None:
    decks = pytest.importorskip("examiner.formats.decks")
    rubric = build_rubric(decks.load_deck(LESSON_DECK))
    assert len(rubric.cards) == 15
    assert all(1 <= len(c.key_points) <= MAX_KEY_POINTS for c in rubric.cards)
    all_texts = [p.text for c in rubric.cards for p in c.key_points]
    assert "Valid convolution: every considered point lies within the input" in all_texts
    assert not any(t == "Locally Connected Layers" for t in all_texts)
    save_rubric(rubric, tmp_path / "lesson.yaml")
    assert load_rubric(tmp_path / "lesson.yaml") == rubric
