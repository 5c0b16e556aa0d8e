"""Practice scheduling, history and stats, without a terminal (the session has its own tests)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from examiner.models import Grade, KeyPointResult, Rubric
from examiner.practice import (
    PracticeHistory,
    Schedule,
    order_cards,
    practice_stats,
    rubric_key,
    suggest_rating,
)
from examiner.practice.schedule import CardState
from examiner.store import MIGRATIONS, Store

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _rubric(*ids: str, title: str = "Small deck") -> Rubric:
    return Rubric.model_validate(
        {
            "title": title,
            "cards": [
                {
                    "id": cid,
                    "question": f"What is {cid}?",
                    "reference_answer": f"{cid} is a thing.",
                    "key_points": [
                        {"id": "a", "text": f"{cid} is a thing"},
                        {"id": "b", "text": f"{cid} has a use"},
                    ],
                }
                for cid in ids
            ],
        }
    )


def _grade(card: str, score: float, coverage: tuple[float, float] = (1.0, 0.0)) -> Grade:
    results = [
        KeyPointResult(
            key_point_id=kid,
            text=kid,
            coverage=cov,
            status="covered" if cov >= 0.7 else "partial" if cov > 0.3 else "missing",
            similarity=cov,
        )
        for kid, cov in zip(("a", "b"), coverage, strict=True)
    ]
    return Grade(
        student_id="ann",
        card_id=card,
        answer=f"my answer to {card}",
        score=score,
        points=score,
        max_points=1,
        label="correct" if score >= 0.8 else "partial" if score >= 0.3 else "incorrect",
        key_points=results,
        scorer="lexical",
        confidence=0.9,
    )


@pytest.fixture
def history(tmp_path: Path) -> PracticeHistory:
    h = PracticeHistory.open("ann", "small-deck", tmp_path / "practice.db")
    yield h  # type: ignore[misc]
    h.close()


# --- ratings and fsrs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "hints", "rating"),
    [
        (0.0, 0, "again"),
        (0.49, 0, "again"),
        (0.5, 0, "hard"),
        (0.74, 0, "hard"),
        (0.75, 0, "good"),
        (0.91, 0, "good"),
        (0.92, 0, "easy"),
        (1.0, 0, "easy"),
        (1.0, 1, "hard"),
        (0.2, 2, "again"),
    ],
)
def test_score_maps_to_the_documented_rating(score: float, hints: int, rating: str) -> None:
    assert suggest_rating(score, hints) == rating


def test_schedule_is_fsrs_without_fuzz() -> None:
    from fsrs import Card, Rating, Scheduler

    schedule = Schedule()
    state = schedule.review(None, "good", NOW)
    state = schedule.review(state, "good", NOW + timedelta(minutes=15))
    state = schedule.review(state, "easy", datetime.fromisoformat(state["due"]))

    scheduler = Scheduler(enable_fuzzing=False)
    card = Card(card_id=0)
    card, _ = scheduler.review_card(card, Rating.Good, NOW)
    card, _ = scheduler.review_card(card, Rating.Good, NOW + timedelta(minutes=15))
    assert card.due is not None
    card, _ = scheduler.review_card(card, Rating.Easy, card.due)
    assert datetime.fromisoformat(state["due"]) == card.due
    # Easy on a learned card pushes the next review out by days, not minutes.
    assert card.due - NOW > timedelta(days=2)


# --- history -------------------------------------------------------------------------------


def test_record_stores_attempt_and_next_state(history: PracticeHistory) -> None:
    rubric = _rubric("x", "y")
    schedule = Schedule()
    first = history.record(_grade("x", 0.2), "again", schedule=schedule, rubric=rubric, when=NOW)
    later = NOW + timedelta(minutes=5)
    second = history.record(
        _grade("x", 0.9), "good", schedule=schedule, rubric=rubric, when=later, suggested="good"
    )
    attempts = history.attempts()
    assert [a.id for a in attempts] == [first.id, second.id]
    assert [a.rating for a in attempts] == ["again", "good"]
    assert attempts[1].suggested == "good"
    assert attempts[1].answer == "my answer to x"
    assert attempts[1].grade is not None and attempts[1].grade.score == 0.9
    # The second review continues from the first one's state.
    expected = schedule.review(schedule.review(None, "again", NOW), "good", later)
    assert attempts[1].state == expected
    assert attempts[1].due_at == datetime.fromisoformat(expected["due"])
    states = history.states()
    assert set(states) == {"x"} and states["x"].reviews == 2
    assert states["x"].due == attempts[1].due_at


def test_history_is_per_student_and_per_rubric(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    rubric = _rubric("x")
    with PracticeHistory.open("ann", "deck-one", db) as ann:
        ann.record(_grade("x", 1.0), "easy", schedule=Schedule(), rubric=rubric, when=NOW)
    with PracticeHistory.open("bob", "deck-one", db) as bob:
        assert bob.attempts() == []
    with PracticeHistory.open("ann", "deck-two", db) as other:
        assert other.attempts() == []
    with PracticeHistory.open("ann", "deck-one", db) as again:
        assert len(again.attempts()) == 1


def test_history_survives_rubric_edits_that_keep_card_ids(tmp_path: Path) -> None:
    rubric = _rubric("x", "y")
    edited = rubric.model_copy(deep=True)
    edited.cards[0].key_points[0].text = "x is a thing, reworded"
    assert rubric_key(edited) == rubric_key(rubric) == "small-deck"
    db = tmp_path / "h.db"
    with PracticeHistory.open("ann", rubric_key(rubric), db) as h:
        h.record(_grade("x", 1.0), "good", schedule=Schedule(), rubric=rubric, when=NOW)
    with PracticeHistory.open("ann", rubric_key(edited), db) as h:
        assert set(h.states()) == {"x"}


def test_rubric_key_falls_back_to_the_file_name() -> None:
    untitled = _rubric("x", title="")
    assert rubric_key(untitled, Path("rubrics/My Deck.yaml")) == "my-deck"


def test_a_database_from_before_practice_is_upgraded_in_place(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    Store.open(db, migrations=MIGRATIONS[:3]).close()
    with PracticeHistory.open("ann", "small-deck", db) as h:
        assert h.store.schema_version() == len(MIGRATIONS)
        h.record(_grade("x", 0.6), "hard", schedule=Schedule(), rubric=_rubric("x"), when=NOW)
        assert len(h.attempts()) == 1


# --- what a session asks -------------------------------------------------------------------


def _state(card: str, due: datetime) -> CardState:
    return CardState(card, {"due": due.isoformat(), "state": 2}, 1, due - timedelta(days=1))


def test_due_cards_first_most_overdue_first_then_new_then_ahead() -> None:
    rubric = _rubric("a", "b", "c", "d", "e")
    states = {
        "a": _state("a", NOW + timedelta(days=3)),  # not due
        "b": _state("b", NOW - timedelta(hours=1)),  # due, a little
        "d": _state("d", NOW - timedelta(days=4)),  # most overdue
    }
    order = [c.id for c in order_cards(rubric.cards, states, NOW)]
    assert order == ["d", "b", "c", "e", "a"]
    due_only = [c.id for c in order_cards(rubric.cards, states, NOW, due_only=True)]
    assert due_only == ["d", "b", "c", "e"]
    no_new = order_cards(rubric.cards, states, NOW, due_only=True, new=0)
    assert [c.id for c in no_new] == ["d", "b"]
    assert [c.id for c in order_cards(rubric.cards, states, NOW, limit=2)] == ["d", "b"]


def test_shuffle_reorders_only_new_cards() -> None:
    rubric = _rubric(*"abcdefgh")
    states = {"a": _state("a", NOW - timedelta(days=1))}
    orders = {
        tuple(c.id for c in order_cards(rubric.cards, states, NOW, shuffle=True, rng=rng))
        for rng in (random.Random(seed) for seed in range(6))
    }
    assert len(orders) > 1
    assert all(o[0] == "a" and sorted(o[1:]) == list("bcdefgh") for o in orders)


# --- stats ---------------------------------------------------------------------------------


def test_stats_agree_with_the_history(history: PracticeHistory) -> None:
    rubric = _rubric("x", "y", "z")
    s = Schedule()
    t0 = NOW - timedelta(days=30)
    # x: learned, then reviewed twice when due: once recalled, once forgotten.
    history.record(_grade("x", 0.9, (1.0, 0.8)), "good", schedule=s, rubric=rubric, when=t0)
    history.record(
        _grade("x", 0.9, (1.0, 0.8)),
        "good",
        schedule=s,
        rubric=rubric,
        when=t0 + timedelta(minutes=10),
    )
    due = history.states()["x"].due
    history.record(_grade("x", 0.95, (1.0, 0.9)), "easy", schedule=s, rubric=rubric, when=due)
    due = history.states()["x"].due
    history.record(_grade("x", 0.1, (0.2, 0.0)), "again", schedule=s, rubric=rubric, when=due)
    # y: once, badly, long ago: due now.
    history.record(_grade("y", 0.2, (0.4, 0.0)), "again", schedule=s, rubric=rubric, when=t0)

    attempts = history.attempts()
    stats = practice_stats(rubric, attempts, NOW)
    assert stats.cards == 3 and stats.new == 1 and stats.reviews == 5
    states = history.states()
    assert stats.due_now == sum(st.due <= NOW for st in states.values())
    # Retention counts reviews of cards in fsrs's review stage: x's third and fourth.
    assert stats.retention_reviews == 2 and stats.retention == pytest.approx(0.5)
    per_card = {p.card_id: p for p in stats.per_card}
    assert per_card["x"].scores == [0.9, 0.9, 0.95, 0.1]
    assert per_card["x"].trend == pytest.approx(-0.8)
    assert per_card["z"].stage == "new" and per_card["z"].due is None
    assert per_card["y"].due == states["y"].due
    # y's first key point: 0.4 once; x's second: (0.8 + 0.8 + 0.9 + 0.0) / 4.
    weakest = [(k.card_id, k.key_point_id) for k in stats.weakest]
    assert weakest[0] == ("y", "b")
    means = {(k.card_id, k.key_point_id): k.mean_coverage for k in stats.weakest}
    assert means[("x", "b")] == pytest.approx((0.8 + 0.8 + 0.9 + 0.0) / 4)
    assert {k.key_point_id: k.missed for k in stats.weakest if k.card_id == "x"}["b"] == 1


def test_stats_ignore_cards_removed_from_the_rubric(history: PracticeHistory) -> None:
    old = _rubric("x", "gone")
    history.record(_grade("gone", 1.0), "easy", schedule=Schedule(), rubric=old, when=NOW)
    stats = practice_stats(_rubric("x"), history.attempts(), NOW)
    assert stats.reviews == 0 and stats.new == 1 and stats.weakest == []


# --- the session, in process ----------------------------------------------------------------


def test_first_question_is_shown_while_the_model_loads(tmp_path: Path) -> None:
    """The student reads the question while the model loads; grading waits for it."""
    import io
    import threading

    from rich.console import Console

    from examiner.cli.practice_view import TerminalView
    from examiner.practice.session import PracticeSession
    from examiner.scoring.grader import Grader

    rubric = _rubric("x")
    release = threading.Event()
    grader = Grader(rubric, scorer="lexical")
    warm_up = grader.warm_up

    def slow_warm_up() -> None:
        assert release.wait(10)
        warm_up()

    grader.warm_up = slow_warm_up  # type: ignore[method-assign]
    loading_when_asked: list[bool] = []
    script = iter(["x is a thing and x has a use", "", ""])

    def read(prompt: str) -> str:
        if not loading_when_asked:
            loaded = session._loader is None or not session._loader.is_alive()
            loading_when_asked.append(not loaded)
            release.set()
        return next(script)

    with PracticeHistory.open("ann", "small-deck", tmp_path / "h.db") as history:
        session = PracticeSession(
            grader,
            history,
            list(rubric.cards),
            view=TerminalView(Console(file=io.StringIO()), read),
        )
        summary = session.run()
        assert loading_when_asked == [True]
        assert len(summary.attempts) == 1 and len(history.attempts()) == 1


def test_a_configured_judge_grades_practice_answers(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    """With a judge configured, the stored practice grade is the judge's, its feedback shown
    (at once or after the rating: tests/test_practice_judge.py times it)."""
    import io

    from rich.console import Console

    from examiner.cli.practice_view import TerminalView
    from examiner.practice.session import PracticeSession
    from examiner.scoring.grader import Grader
    from tests.conftest import scripted_judge

    rubric = _rubric("x")
    answer = "x is a thing. x has a use."
    script = iter([answer, "", ""])
    screen = io.StringIO()
    with (
        Grader(rubric, scorer="lexical", judge=scripted_judge(server)) as grader,
        PracticeHistory.open("ann", "small-deck", tmp_path / "h.db") as history,
    ):
        session = PracticeSession(
            grader,
            history,
            list(rubric.cards),
            view=TerminalView(Console(file=screen, width=120), lambda _prompt: next(script)),
        )
        summary = session.run()
    assert len(server.chat_requests) == 1
    assert answer in server.chat_requests[0].text
    grade = summary.attempts[0].grade
    assert grade is not None and grade.scorer == "judge" and grade.judge is not None
    assert "You covered a, b." in screen.getvalue()  # the judge's feedback, shown
