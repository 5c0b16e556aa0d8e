"""`examiner practice` driven as a student drives it: through a pseudo-terminal (pexpect).

Each test spawns the real console script, types at its prompts, and then checks
what a student relies on: what the screen said, and what the practice history
stored (read back with PracticeHistory, recomputed with fsrs).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pexpect  # type: ignore[import-untyped]
import pytest
import yaml

from examiner.practice import (
    Attempt,
    PracticeHistory,
    RatingName,
    Schedule,
    order_cards,
    rubric_key,
    suggest_rating,
)
from examiner.practice.session import humanize_delay
from examiner.rubric import load_rubric
from examiner.scoring.grader import Grader
from tests.conftest import CNN_RUBRIC
from tests.test_practice_judge import HeldServer

EXAMINER = Path(sys.executable).parent / "examiner"
TIMEOUT = 30
STUDENT = "ann"

RATE_PROMPT = r"Rate: again \(a\) · hard \(h\) · good \(g\) · easy \(e\) — Enter for (\w+): "
RATED = r"rated (\w+) · next review (in \d+ \w+)"
SCORE = re.compile(r"(\d\.\d\d)  \(\d\.\d\d / \d+ points\)")
PANEL_TITLE = re.compile(r"╭─+ (\S+) ─+╮")

# Three small cards. The pooling card lists its lighter key point first, so the
# first hint (the heaviest point) is not simply the first one in the file.
CARDS: list[dict[str, Any]] = [
    {
        "id": "pooling",
        "question": "What does a max pooling layer do?",
        "reference_answer": "It keeps the largest value of each window, shrinking the map.",
        "key_points": [
            {
                "id": "shrinks",
                "text": "It reduces the spatial size of the feature map.",
                "weight": 1.0,
                "alternatives": ["It downsamples the feature map."],
            },
            {
                "id": "largest",
                "text": "Max pooling keeps the largest value in each window.",
                "weight": 2.0,
                "alternatives": ["It takes the maximum of every patch."],
            },
        ],
        "misconceptions": [
            {
                "id": "learns",
                "text": "Max pooling has learnable weights.",
                "penalty": 0.3,
                "correction": "Pooling has no parameters.",
            }
        ],
    },
    {
        "id": "relu",
        "question": "What does the ReLU activation compute?",
        "reference_answer": "ReLU outputs the input when positive and zero otherwise.",
        "key_points": [
            {"id": "zero", "text": "ReLU sets negative inputs to zero.", "weight": 1.0},
            {"id": "identity", "text": "ReLU passes positive inputs unchanged.", "weight": 1.0},
        ],
    },
    {
        "id": "stride",
        "question": "What is the stride of a convolution?",
        "reference_answer": "The stride is the step the filter moves between positions.",
        "key_points": [
            {
                "id": "step",
                "text": "The stride is the number of pixels the filter moves at each step.",
                "weight": 1.0,
            }
        ],
    },
]
EXTRA_CARD: dict[str, Any] = {
    "id": "padding",
    "question": "Why pad the input of a convolution?",
    "reference_answer": "To keep the output the same size as the input.",
    "key_points": [{"id": "size", "text": "Padding keeps the output size equal to the input."}],
}

FULL = {
    "pooling": [
        "Max pooling keeps the largest value in each window.",
        "It reduces the spatial size of the feature map.",
    ],
    "relu": ["ReLU sets negative inputs to zero and passes positive inputs unchanged."],
    "stride": ["The stride is the number of pixels the filter moves at each step."],
}
# Half of the pooling card's key-point weight or more, not all of it: "hard".
PARTIAL_POOLING = ["Max pooling keeps the largest value in each window."]


# --- helpers -----------------------------------------------------------------------------


@pytest.fixture
def home(isolated: Path) -> Path:
    return isolated / "home"


@pytest.fixture
def rubric(isolated: Path) -> Path:
    return write_rubric(isolated / "deck.yaml", CARDS)


def write_rubric(path: Path, cards: list[dict[str, Any]]) -> Path:
    path.write_text(
        yaml.safe_dump({"title": "Tiny CNN deck", "version": 1, "cards": cards}, sort_keys=False),
        encoding="utf-8",
    )
    return path


def history_of(rubric: Path, db: Path) -> list[Attempt]:
    with PracticeHistory.open(STUDENT, rubric_key(load_rubric(rubric), rubric), db) as history:
        return history.attempts()


def terminal_env(home: Path, **extra: str) -> dict[str, str]:
    """The test's environment on a plain, wide terminal: no colour, no animation."""
    drop = {"FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env |= {
        "EXAMINER_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        # rich draws a dumb terminal 80 columns wide unless both of these are set.
        "TERM": "dumb",
        "COLUMNS": "200",
        "LINES": "50",
        "NO_COLOR": "1",
    }
    return env | extra


@dataclass
class Graded:
    suggested: RatingName
    score: str  # as shown, two decimals
    panel: str  # everything printed between the submitted answer and the rating prompt


class Student:
    """A student at `examiner practice`, one prompt at a time."""

    def __init__(
        self, rubric: Path, home: Path, *args: str, timeout: int = TIMEOUT, **env: str
    ) -> None:
        self.child = pexpect.spawn(
            str(EXAMINER),
            ["practice", str(rubric), "--student", STUDENT, *args],
            env=terminal_env(home, **env),
            encoding="utf-8",
            dimensions=(50, 200),
            timeout=timeout,
            # A test run started in the background inherits SIGINT ignored, and so
            # would the student's process: Ctrl-C must reach it as at a terminal.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.transcript: list[str] = []

    def expect(self, pattern: str | type[pexpect.EOF]) -> re.Match[str] | None:
        self.child.expect(pattern)
        after = self.child.after
        self.transcript.append(str(self.child.before) + (after if isinstance(after, str) else ""))
        match = self.child.match
        return match if isinstance(match, re.Match) else None

    @property
    def before(self) -> str:
        return str(self.child.before)

    def ask(self) -> tuple[int, int, str]:
        """Wait for the next card: (its number, how many, its id), at the answer prompt."""
        match = self.expect(r"card (\d+) of (\d+)")
        assert match is not None
        number, total = int(match[1]), int(match[2])
        self.expect("> ")
        title = PANEL_TITLE.search(self.before)
        assert title is not None, self.before
        return number, total, title[1]

    def type(self, line: str) -> None:
        """Type one line at the answer prompt and wait for the next prompt."""
        self.child.sendline(line)
        self.expect("> ")

    def answer(self, lines: list[str]) -> Graded:
        """Type the lines, submit with an empty line, wait for the rating prompt."""
        for line in lines[:-1]:
            self.type(line)
        self.child.sendline(lines[-1])
        if lines[-1]:
            self.expect("> ")
            self.child.sendline("")
        return self.graded()

    def graded(self) -> Graded:
        match = self.expect(RATE_PROMPT)
        assert match is not None
        score = SCORE.search(self.before)
        assert score is not None, self.before
        return Graded(match[1], score[1], self.before)  # type: ignore[arg-type]

    def rate(self, key: str = "") -> tuple[str, str]:
        """Answer the rating prompt: (the rating it confirms, "in N units")."""
        self.child.sendline(key)
        return self.rated()

    def rated(self) -> tuple[str, str]:
        """Wait for the rating's confirmation, which must start a line of its own."""
        match = self.expect(RATED)
        assert match is not None
        assert self.before.endswith("\n"), repr(self.before)
        return match[1], match[2]

    def finish(self) -> int:
        """Wait for the program to end; its exit status."""
        self.expect(pexpect.EOF)
        self.child.close()
        assert self.child.signalstatus is None, self.text
        assert self.child.exitstatus is not None
        return int(self.child.exitstatus)

    @property
    def text(self) -> str:
        return "".join(self.transcript)


def seed(rubric: Path, db: Path, reviews: list[tuple[str, RatingName, datetime]]) -> None:
    """Past practice, as earlier sessions would have stored it."""
    loaded = load_rubric(rubric)
    grader = Grader(loaded, scorer="lexical")
    with PracticeHistory.open(STUDENT, rubric_key(loaded, rubric), db) as history:
        for card_id, rating, when in reviews:
            grade = grader.grade(card_id, " ".join(FULL.get(card_id, ["no idea"])), STUDENT)
            history.record(grade, rating, schedule=Schedule(), rubric=loaded, when=when)


def fsrs_due(attempts: list[Attempt]) -> datetime:
    """The due date fsrs gives a card after these attempts (oldest first)."""
    schedule = Schedule()
    state: dict[str, Any] | None = None
    for attempt in attempts:
        state = schedule.review(state, attempt.rating, attempt.reviewed_at)
    assert state is not None
    return datetime.fromisoformat(state["due"])


# --- answering and rating ------------------------------------------------------------------


def test_full_answer_with_suggested_rating_is_stored_and_scheduled_by_fsrs(
    rubric: Path, home: Path
) -> None:
    started = datetime.now(UTC)
    student = Student(rubric, home, "--scorer", "lexical")
    assert student.ask() == (1, 3, "pooling")
    assert "What does a max pooling layer do?" in student.before
    graded = student.answer(FULL["pooling"])
    assert "scorer lexical" in graded.panel
    assert "reference answer" in graded.panel
    assert "It keeps the largest value of each window, shrinking the map." in graded.panel
    assert graded.suggested == suggest_rating(float(graded.score)) == "easy"
    rating, delay = student.rate()  # Enter: the suggestion
    assert rating == graded.suggested

    assert student.ask() == (2, 3, "relu")
    student.child.sendline("quit")
    assert student.finish() == 0
    db = home / "examiner.db"
    assert "1 answered · 0 skipped · mean score" in student.text
    assert f"progress saved in {db}" in student.text
    assert "Interrupted" not in student.text

    [attempt] = history_of(rubric, db)
    assert attempt.card_id == "pooling"
    assert attempt.answer == "\n".join(FULL["pooling"])
    assert attempt.score is not None and f"{attempt.score:.2f}" == graded.score
    assert attempt.rating == attempt.suggested == graded.suggested
    assert attempt.hints == 0
    assert started <= attempt.reviewed_at <= datetime.now(UTC)
    expected = Schedule().review(None, attempt.rating, attempt.reviewed_at)["due"]
    assert attempt.due_at == datetime.fromisoformat(expected)
    assert attempt.due_at > attempt.reviewed_at + timedelta(days=1)  # easy: days, not minutes
    assert delay == humanize_delay(attempt.due_at - attempt.reviewed_at)


@pytest.mark.parametrize(
    ("lines", "key", "chosen", "suggested"),
    [
        (PARTIAL_POOLING, "e", "easy", "hard"),
        (FULL["pooling"], "a", "again", "easy"),
        (FULL["pooling"], "hard", "hard", "easy"),
    ],
)
def test_overriding_the_rating_stores_the_choice_and_keeps_the_suggestion(
    rubric: Path, home: Path, lines: list[str], key: str, chosen: str, suggested: str
) -> None:
    student = Student(rubric, home, "--scorer", "lexical")
    student.ask()
    graded = student.answer(lines)
    assert graded.suggested == suggested
    assert student.rate(key)[0] == chosen
    student.ask()
    student.child.sendline("quit")
    assert student.finish() == 0

    [attempt] = history_of(rubric, home / "examiner.db")
    assert (attempt.rating, attempt.suggested) == (chosen, suggested)
    assert attempt.due_at == fsrs_due([attempt])


def test_an_unknown_rating_is_asked_again(rubric: Path, home: Path) -> None:
    student = Student(rubric, home, "--scorer", "lexical")
    student.ask()
    student.answer(FULL["pooling"])
    student.child.sendline("maybe")
    student.expect("Type a, h, g or e")
    student.expect(RATE_PROMPT)
    assert student.rate("g")[0] == "good"
    student.ask()
    student.child.sendline("quit")
    assert student.finish() == 0
    [attempt] = history_of(rubric, home / "examiner.db")
    assert (attempt.rating, attempt.suggested) == ("good", "easy")


def test_ctrl_d_submits_the_answer_and_takes_the_suggested_rating(rubric: Path, home: Path) -> None:
    student = Student(rubric, home, "--scorer", "lexical")
    student.ask()
    student.type(PARTIAL_POOLING[0])
    student.child.sendeof()  # Ctrl-D on the empty line after the answer
    graded = student.graded()
    assert graded.suggested == "hard"
    student.child.sendeof()  # Ctrl-D at the rating prompt: the suggestion
    assert student.rated()[0] == "hard"
    assert student.ask()[2] == "relu"
    student.child.sendeof()  # Ctrl-D before any answer: the session ends
    student.expect("1 answered · 0 skipped")
    assert student.finish() == 0
    # Ctrl-D echoes nothing: what follows a prompt still starts on a line of its own.
    assert not re.search(r"> [╭─]", student.text), student.text
    [attempt] = history_of(rubric, home / "examiner.db")
    assert attempt.answer == PARTIAL_POOLING[0]
    assert attempt.rating == attempt.suggested == "hard"


def test_enter_twice_on_an_empty_answer_gives_up_and_is_graded_empty(
    rubric: Path, home: Path
) -> None:
    student = Student(rubric, home, "--scorer", "lexical")
    student.ask()
    student.child.sendline("")
    student.expect("No answer yet")
    student.expect("> ")
    student.child.sendline("")
    graded = student.graded()
    assert graded.score == "0.00" and graded.suggested == "again"
    assert "It keeps the largest value of each window" in graded.panel  # the answer is shown
    student.rate()
    student.ask()
    student.child.sendline("quit")
    assert student.finish() == 0
    [attempt] = history_of(rubric, home / "examiner.db")
    assert (attempt.card_id, attempt.answer, attempt.score) == ("pooling", "", 0.0)
    assert attempt.rating == "again"


def test_a_hint_shows_the_heaviest_key_point_and_caps_the_rating_at_hard(
    rubric: Path, home: Path
) -> None:
    student = Student(rubric, home, "--scorer", "lexical")
    student.ask()
    student.type("?")
    heaviest = max(CARDS[0]["key_points"], key=lambda p: p["weight"])["text"]
    assert f"hint 1/2: {heaviest}" in student.before
    assert "hint 2/2" not in student.before
    graded = student.answer(FULL["pooling"])
    assert graded.score == "1.00"  # a full answer ...
    assert graded.suggested == "hard"  # ... rated at most hard after a hint
    student.rate()
    student.ask()
    student.child.sendline("quit")
    assert student.finish() == 0

    [attempt] = history_of(rubric, home / "examiner.db")
    assert attempt.hints == 1
    assert attempt.score == 1.0
    assert attempt.rating == attempt.suggested == "hard"
    assert attempt.answer == "\n".join(FULL["pooling"])  # the `?` is not part of the answer


# --- a slow judge ----------------------------------------------------------------------------


def judge_env(base_url: str) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "sk-scripted",
        "EXAMINER_JUDGE_MODEL": "scripted-judge",
        "EXAMINER_JUDGE_TIMEOUT": "30",
    }


def judged_student(rubric: Path, home: Path, held: HeldServer) -> Student:
    """A student practising with every answer sent to the held judge, at the first question."""
    student = Student(
        rubric, home, "--scorer", "lexical", "--judge", "always", **judge_env(held.base_url)
    )
    student.ask()
    return student


def test_a_slow_judge_does_not_hold_the_feedback_and_j_waits_for_its_verdict(
    rubric: Path, home: Path
) -> None:
    held = HeldServer()
    with held:
        student = judged_student(rubric, home, held)
        graded = student.answer(FULL["pooling"])  # the judge's reply is held meanwhile
        assert "scorer lexical" in graded.panel
        assert "The judge is reading your answer: press j to wait" in graded.panel
        held.release()
        student.child.sendline("j")
        judged = student.graded()  # the rating is asked again, after the judge's feedback
        assert "scorer judge" in judged.panel
        assert judged.suggested == suggest_rating(float(judged.score))
        assert student.rate()[0] == judged.suggested
        assert student.ask()[2] == "relu"
        student.child.sendline("quit")
        assert student.finish() == 0
    [attempt] = history_of(rubric, home / "examiner.db")
    assert attempt.grade is not None and attempt.grade.scorer == "judge"
    assert attempt.rating == attempt.suggested == judged.suggested
    assert "judge on the last card" not in student.text


def test_a_rating_before_the_verdict_stays_and_the_verdict_is_stored_when_it_comes(
    rubric: Path, home: Path
) -> None:
    held = HeldServer()
    with held:
        student = judged_student(rubric, home, held)
        graded = student.answer(PARTIAL_POOLING)
        assert "The judge is reading your answer" in graded.panel
        assert student.rate("g")[0] == "good"  # rated without waiting
        assert student.ask()[2] == "relu"
        assert "judge on" not in student.text
        held.release()
        student.child.sendline("quit")
        student.expect(r"judge on the last card: \d\.\d\d")
        assert student.finish() == 0
    [attempt] = history_of(rubric, home / "examiner.db")
    assert attempt.grade is not None and attempt.grade.scorer == "judge"
    assert (attempt.rating, attempt.suggested) == ("good", graded.suggested)


# --- skip, quit, Ctrl-C -------------------------------------------------------------------


def test_skip_is_not_stored_and_quit_ends_with_the_summary(
    rubric: Path, home: Path, isolated: Path
) -> None:
    db = isolated / "elsewhere" / "mine.db"
    student = Student(rubric, home, "--scorer", "lexical", "--db", str(db))
    assert student.ask()[2] == "pooling"
    student.child.sendline("skip")
    student.expect("skipped")
    assert student.ask() == (2, 3, "relu")
    student.answer(FULL["relu"])
    student.rate()
    assert student.ask() == (3, 3, "stride")
    student.child.sendline("quit")
    student.expect("1 answered · 1 skipped")
    assert student.finish() == 0
    assert f"progress saved in {db}" in student.text
    assert [a.card_id for a in history_of(rubric, db)] == ["relu"]
    assert not (home / "examiner.db").exists()  # --db is the only file written


def test_quit_on_the_first_card_stores_nothing(rubric: Path, home: Path) -> None:
    student = Student(rubric, home, "--scorer", "lexical")
    student.ask()
    student.child.sendline("quit")
    student.expect("0 answered · 0 skipped")
    assert student.finish() == 0
    assert "rated" not in student.text
    assert history_of(rubric, home / "examiner.db") == []


def test_ctrl_c_while_typing_keeps_earlier_answers_and_drops_the_unfinished_one(
    rubric: Path, home: Path
) -> None:
    student = Student(rubric, home, "--scorer", "lexical")
    student.ask()
    student.answer(FULL["pooling"])
    student.rate()
    assert student.ask()[2] == "relu"
    student.type("ReLU sets negative inputs")
    student.child.sendintr()
    student.expect("Interrupted: progress saved in")
    assert student.finish() == 0
    assert "1 answered · 0 skipped" in student.text
    assert "Traceback" not in student.text
    attempts = history_of(rubric, home / "examiner.db")
    assert [a.card_id for a in attempts] == ["pooling"]


def test_ctrl_c_at_the_rating_prompt_stores_the_suggested_rating(rubric: Path, home: Path) -> None:
    student = Student(rubric, home, "--scorer", "lexical")
    student.ask()
    graded = student.answer(PARTIAL_POOLING)
    assert graded.suggested == "hard"
    student.child.sendintr()
    assert student.rated()[0] == "hard"  # on its own line, after the echoed ^C
    student.expect("Interrupted: progress saved in")
    assert student.finish() == 0
    assert "1 answered · 0 skipped" in student.text
    assert "card 2 of 3" not in student.text
    [attempt] = history_of(rubric, home / "examiner.db")
    assert attempt.card_id == "pooling"
    assert attempt.answer == PARTIAL_POOLING[0]
    assert attempt.rating == attempt.suggested == "hard"
    assert attempt.due_at == fsrs_due([attempt])


# --- what is asked, in which order ------------------------------------------------------------


def test_due_asks_the_most_overdue_card_first_and_nothing_else(isolated: Path, home: Path) -> None:
    rubric = write_rubric(isolated / "deck.yaml", [*CARDS, EXTRA_CARD])
    db = home / "examiner.db"
    now = datetime.now(UTC)
    seed(
        rubric,
        db,
        [
            ("pooling", "again", now - timedelta(days=2)),
            ("relu", "again", now - timedelta(days=10)),
            ("stride", "easy", now - timedelta(days=1)),
        ],
    )
    due = {a.card_id: a.due_at for a in history_of(rubric, db)}
    # relu was forgotten longest ago, pooling later: both due; stride is not due yet.
    assert due["relu"] < due["pooling"] < now < due["stride"]
    # (and "padding" was never practised: a new card)

    student = Student(rubric, home, "--scorer", "lexical", "--due", "--new", "0")
    assert student.ask() == (1, 2, "relu")
    student.child.sendline("skip")
    assert student.ask() == (2, 2, "pooling")
    student.child.sendline("skip")
    student.expect("0 answered · 2 skipped")
    assert student.finish() == 0
    assert "stride" not in student.text
    assert "padding" not in student.text
    assert len(history_of(rubric, db)) == 3  # skipping stored nothing


def test_without_due_cards_not_yet_due_come_after_due_and_new_ones(
    rubric: Path, home: Path
) -> None:
    db = home / "examiner.db"
    now = datetime.now(UTC)
    seed(
        rubric,
        db,
        [
            ("pooling", "easy", now - timedelta(days=1)),  # not due for a week
            ("stride", "again", now - timedelta(days=2)),  # overdue
        ],
    )
    states = PracticeHistory.open(STUDENT, rubric_key(load_rubric(rubric), rubric), db)
    with states:
        assert states.states()["stride"].is_due(now)
        assert not states.states()["pooling"].is_due(now)

    student = Student(rubric, home, "--scorer", "lexical")
    order: list[str] = []
    for _ in range(3):
        number, total, card_id = student.ask()
        assert (number, total) == (len(order) + 1, 3)
        order.append(card_id)
        student.child.sendline("skip")
    student.expect("0 answered · 3 skipped")
    assert student.finish() == 0
    assert order == ["stride", "relu", "pooling"]  # due, new, then ahead of time


def test_nothing_due_says_so(rubric: Path, home: Path) -> None:
    db = home / "examiner.db"
    now = datetime.now(UTC)
    seed(rubric, db, [(card["id"], "easy", now) for card in CARDS])
    student = Student(rubric, home, "--scorer", "lexical", "--due")
    student.expect("Nothing to practise: no card is due")
    assert student.finish() == 0
    assert "card 1 of" not in student.text


# --- stats agree with the history -----------------------------------------------------------


def test_stats_json_agrees_with_the_stored_history(rubric: Path, home: Path) -> None:
    db = home / "examiner.db"
    now = datetime.now(UTC)
    seed(
        rubric,
        db,
        [
            ("relu", "again", now - timedelta(days=3)),
            ("pooling", "easy", now - timedelta(days=2)),
        ],
    )
    student = Student(rubric, home, "--scorer", "lexical")
    assert student.ask()[2] == "relu"  # due
    student.answer(["ReLU sets negative inputs to zero."])
    student.rate()
    assert student.ask()[2] == "stride"  # new
    student.answer(FULL["stride"])
    student.rate("h")
    assert student.ask()[2] == "pooling"  # ahead of time
    student.child.sendline("quit")
    assert student.finish() == 0

    result = subprocess.run(
        [str(EXAMINER), "stats", str(rubric), "--student", STUDENT, "--json"],
        env=terminal_env(home),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    figures = json.loads(result.stdout)
    now = datetime.now(UTC)

    attempts = history_of(rubric, db)
    assert len(attempts) == 4
    by_card: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        by_card.setdefault(attempt.card_id, []).append(attempt)
    assert figures["reviews"] == len(attempts)
    assert figures["cards"] == 3
    assert figures["new"] == 3 - len(by_card)
    per_card = {c["card_id"]: c for c in figures["per_card"]}
    assert set(per_card) == {"pooling", "relu", "stride"}
    for card_id, items in by_card.items():
        assert per_card[card_id]["attempts"] == len(items)
        assert per_card[card_id]["scores"] == [a.score for a in items]
        assert datetime.fromisoformat(per_card[card_id]["due"]) == items[-1].due_at
        assert items[-1].due_at == fsrs_due(items)  # each stored state is fsrs's

    dues = [items[-1].due_at for items in by_card.values()]
    local = now.astimezone()
    end_of_today = datetime.combine(local.date() + timedelta(days=1), time(), local.tzinfo)
    assert figures["due_now"] == sum(d <= now for d in dues)
    assert figures["due_today"] == sum(d < end_of_today for d in dues)
    assert figures["due_week"] == sum(d < end_of_today + timedelta(days=6) for d in dues)
    # relu (again) and stride (hard) are due within minutes; pooling (easy) in days.
    assert figures["due_week"] > figures["due_now"] == 0


# --- scorers -------------------------------------------------------------------------------


@pytest.mark.model  # the child finds the model missing through sentence-transformers (torch)
def test_without_a_model_the_session_grades_with_the_lexical_scorer(
    rubric: Path, home: Path
) -> None:
    student = Student(rubric, home, EXAMINER_EMBEDDING_MODEL="/nonexistent/model")
    student.ask()
    graded = student.answer(FULL["pooling"])
    assert "notice:" in graded.panel
    assert "/nonexistent/model" in graded.panel
    assert "lexical scorer" in graded.panel
    assert "scorer lexical" in graded.panel
    assert graded.score == "1.00"
    student.rate()
    student.ask()
    student.child.sendline("quit")
    assert student.finish() == 0
    [attempt] = history_of(rubric, home / "examiner.db")
    assert attempt.card_id == "pooling"
    assert attempt.grade is not None and attempt.grade.scorer == "lexical"
    assert attempt.rating == graded.suggested


@pytest.mark.model
def test_a_session_with_the_embedding_model_on_the_shipped_rubric(home: Path) -> None:
    loaded = load_rubric(CNN_RUBRIC)
    first = order_cards(loaded.cards, {}, datetime.now(UTC))[0]
    student = Student(CNN_RUBRIC, home, "--scorer", "embedding", timeout=120)
    assert student.ask() == (1, len(loaded.cards), first.id)
    graded = student.answer([point.text for point in first.key_points])
    assert "scorer embedding" in graded.panel
    assert float(graded.score) >= 0.75
    rating, _ = student.rate()
    assert rating == graded.suggested == suggest_rating(float(graded.score))
    student.ask()
    student.child.sendline("quit")
    assert student.finish() == 0

    [attempt] = history_of(CNN_RUBRIC, home / "examiner.db")
    assert attempt.card_id == first.id
    assert attempt.score is not None and f"{attempt.score:.2f}" == graded.score
    assert attempt.grade is not None and attempt.grade.scorer == "embedding"
    assert attempt.due_at == fsrs_due([attempt])
