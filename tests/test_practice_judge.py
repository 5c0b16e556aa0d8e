"""Practice with a judge never waits for it: the embedding feedback at once, the verdict after.

The judge is the scripted server, its replies held until the test releases
them (`HeldServer`): a slow judge for exactly as long as each test needs, so
nothing here depends on timing. The session runs in process, its terminal a
rich Console on a string, its keyboard a list of steps.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from examiner.cli.practice_view import TerminalView
from examiner.models import Flag, Rubric
from examiner.practice import PracticeHistory
from examiner.practice.session import PracticeSession, SessionSummary
from examiner.scoring.grader import Grader, StagedGrade
from tests.conftest import scripted_judge
from tests.openai_server import Reply, ScriptedOpenAI, Status
from tests.test_practice import _rubric

# Generous: the longest any test waits for something that should happen at once.
WAIT = 30.0

# Both key points of card x, which the lexical scorer grades 1.00 ("easy").
ANSWER = "x is a thing. x has a use."
# The judge finds only the first in it: 0.50, "hard".
HALF: dict[str, Any] = {
    "key_points": [
        {"key_point_id": "a", "status": "covered", "quote": "x is a thing.", "reason": "said"},
        {"key_point_id": "b", "status": "missing", "quote": "", "reason": "not said"},
    ],
    "misconceptions": [],
    "other_errors": [],
    "injection_attempt": False,
    "feedback": {
        "right": "You said what x is.",
        "missing": "Say what x is for.",
        "next_step": "Learn b.",
    },
    "overall_score": 0.5,
}
SUGGESTED = re.compile(r"Enter for \[[^\]]+\](\w+)\[/\]")


class HeldServer(ScriptedOpenAI):
    """The scripted server, each chat reply held until `release()`."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.asked = threading.Event()
        self._gate = threading.Event()

    def release(self) -> None:
        self._gate.set()

    def _sleep(self, seconds: float) -> None:
        self.asked.set()
        self._gate.wait(WAIT)
        super()._sleep(seconds)

    def close(self) -> None:
        self.release()
        super().close()


@pytest.fixture
def held() -> Iterator[HeldServer]:
    srv = HeldServer()
    try:
        yield srv
    finally:
        srv.close()


Step = str | Callable[[str], str]


class Practice:
    """One session: a grader judging through `server`, a history, a scripted keyboard."""

    def __init__(self, tmp_path: Path, server: ScriptedOpenAI, rubric: Rubric, **kw: Any) -> None:
        self.grader = Grader(rubric, scorer="lexical", judge=scripted_judge(server, timeout=WAIT))
        self.history = PracticeHistory.open("ann", "small-deck", tmp_path / "h.db")
        self.screen = io.StringIO()
        self.staged: list[StagedGrade] = []
        self.prompts: list[str] = []
        self._steps: list[Step] = []
        grade_staged = self.grader.grade_staged

        def keep(card: str | int, answer: str, student_id: str = "me") -> StagedGrade:
            staged = grade_staged(card, answer, student_id)
            self.staged.append(staged)
            return staged

        self.grader.grade_staged = keep  # type: ignore[method-assign]
        view = TerminalView(Console(file=self.screen, width=160), self._read)
        kw.setdefault("judge_wait", WAIT)
        self.session = PracticeSession(
            self.grader, self.history, list(rubric.cards), view=view, **kw
        )

    @property
    def text(self) -> str:
        return self.screen.getvalue()

    def _read(self, prompt: str) -> str:
        self.prompts.append(prompt)
        step = self._steps.pop(0)
        return step if isinstance(step, str) else step(prompt)

    def run(self, *steps: Step) -> SessionSummary:
        self._steps = list(steps)
        try:
            return self.session.run()
        finally:
            assert self._steps == [], "steps left over"

    def close(self) -> None:
        self.history.close()
        self.grader.close()


@pytest.fixture
def practice(tmp_path: Path, held: HeldServer) -> Iterator[Callable[..., Practice]]:
    made: list[Practice] = []

    def make(rubric: Rubric, server: ScriptedOpenAI = held, **kw: Any) -> Practice:
        made.append(Practice(tmp_path, server, rubric, **kw))
        return made[-1]

    yield make
    held.release()
    for p in made:
        p.close()


def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.01)


def suggested_in(prompt: str) -> str:
    found = SUGGESTED.search(prompt)
    assert found, prompt
    return found[1]


# --- the grader -------------------------------------------------------------------------------


def test_grade_staged_returns_the_embedding_grade_before_the_judge_answers(
    held: HeldServer,
) -> None:
    held.script(Reply(HALF))
    with Grader(_rubric("x"), scorer="lexical", judge=scripted_judge(held, timeout=WAIT)) as g:
        staged = g.grade_staged("x", ANSWER, "ann")
        assert (staged.first.scorer, staged.first.score) == ("lexical", 1.0)
        assert staged.judged is not None
        assert held.asked.wait(WAIT)
        assert not staged.judged.done() and g.judging == 1  # the reply is held
        held.release()
        judged = staged.judged.result(timeout=WAIT)
        assert (judged.scorer, judged.score, judged.student_id) == ("judge", 0.5, "ann")
        assert g.judging == 0
        assert g.grade_staged("x", "").judged is None  # an empty answer is not routed
    without = Grader(_rubric("x"), scorer="lexical").grade_staged("x", ANSWER)
    assert without.judged is None and without.first.score == 1.0


def test_close_cancels_verdicts_not_asked_and_lets_the_asked_one_end(held: HeldServer) -> None:
    grader = Grader(_rubric("x", "y"), scorer="lexical", judge=scripted_judge(held, timeout=WAIT))
    asked = grader.grade_staged("x", ANSWER).judged
    queued = grader.grade_staged("y", "y is a thing.").judged
    assert asked is not None and queued is not None
    assert held.asked.wait(WAIT)  # x is being asked; y waits its turn
    closer = threading.Thread(target=grader.close)
    closer.start()
    until(queued.cancelled)
    assert not asked.done()
    held.release()
    closer.join(WAIT)
    assert not closer.is_alive()
    assert asked.result(timeout=0).scorer == "judge"
    assert grader.judging == 0
    assert len(held.chat_requests) == 1


# --- the terminal session -------------------------------------------------------------------


def test_a_rating_given_before_the_verdict_stays_and_the_verdict_replaces_the_grade(
    practice: Callable[..., Practice], held: HeldServer
) -> None:
    held.script(Reply(HALF))
    p = practice(_rubric("x", "y", "z"))

    def rate_before_the_verdict(prompt: str) -> str:
        assert prompt.startswith("Rate") and suggested_in(prompt) == "easy"
        assert "scorer lexical" in p.text  # the embedding feedback, shown at once
        assert "The judge is reading your answer: press j" in p.text
        assert p.staged[0].judged is not None and not p.staged[0].judged.done()
        return "g"

    def on_the_next_card(prompt: str) -> str:
        [attempt] = p.history.attempts()  # stored at once, with the embedding grade
        assert attempt.grade is not None and attempt.grade.scorer == "lexical"
        assert (attempt.rating, attempt.suggested, attempt.score) == ("good", "easy", 1.0)
        assert "judge on" not in p.text
        held.release()
        assert p.staged[0].judged is not None
        p.staged[0].judged.result(timeout=WAIT)
        return "skip"

    def on_the_card_after(prompt: str) -> str:
        # The verdict came in before this card was shown: stored, and said in one line.
        assert "judge on the last card: 0.50 — Say what x is for." in p.text
        assert p.text.index("judge on the last card") < p.text.index("card 3 of 3")
        return "quit"

    summary = p.run(ANSWER, "", rate_before_the_verdict, on_the_next_card, on_the_card_after)
    [attempt] = p.history.attempts()
    assert attempt.grade is not None and attempt.grade.scorer == "judge"
    assert attempt.grade.judge_feedback is not None
    assert attempt.score == 0.5
    # The student's rating stays, and the schedule it made.
    assert (attempt.rating, attempt.suggested) == ("good", "easy")
    assert summary.attempts == [attempt] and summary.mean_score == 0.5
    assert len(held.chat_requests) == 1


def test_j_waits_for_the_verdict_shows_it_and_asks_the_rating_again(
    practice: Callable[..., Practice], held: HeldServer
) -> None:
    held.script(Reply(HALF))
    p = practice(_rubric("x"))

    def wait_for_the_judge(prompt: str) -> str:
        assert suggested_in(prompt) == "easy"  # from the embedding score, 1.00
        assert "Say what x is for." not in p.text
        held.release()
        return "j"

    def rate_again(prompt: str) -> str:
        # The judge's feedback is on screen, and the suggestion follows its score.
        assert "Say what x is for." in p.text and "scorer judge" in p.text
        assert suggested_in(prompt) == "hard"
        return ""

    p.run(ANSWER, "", wait_for_the_judge, rate_again)
    [attempt] = p.history.attempts()
    assert attempt.grade is not None and attempt.grade.scorer == "judge"
    assert (attempt.score, attempt.rating, attempt.suggested) == (0.5, "hard", "hard")
    assert "judge on the last card" not in p.text  # nothing came in late
    assert len(p.prompts) == 4


def test_a_failing_judge_leaves_the_embedding_grade_and_practice_goes_on(
    practice: Callable[..., Practice],
) -> None:
    with ScriptedOpenAI(default=Status(500)) as failing:
        p = practice(_rubric("x", "y"), server=failing)
        summary = p.run(ANSWER, "", "j", "", "y is a thing.", "", "h")
        by_card = {a.card_id: a for a in p.history.attempts()}
    assert set(by_card) == {"x", "y"}
    for attempt in by_card.values():
        assert attempt.grade is not None and attempt.grade.scorer == "lexical"
        assert Flag.JUDGE_FAILED in attempt.grade.flags
        assert any(n.startswith("judge_failed") for n in attempt.grade.notes)
    assert by_card["x"].score == 1.0 and by_card["x"].rating == "easy"
    assert by_card["y"].rating == "hard"
    assert "notice: judge_failed" in p.text  # x: shown after `j`
    assert "judge on the last card failed" in p.text  # y: rated first, the failure came after
    assert len(summary.attempts) == 2 and not summary.interrupted


def test_ctrl_c_at_the_rating_stores_the_attempt_once_and_still_takes_the_verdict(
    practice: Callable[..., Practice], held: HeldServer
) -> None:
    held.script(Reply(HALF))
    p = practice(_rubric("x", "y"))

    def ctrl_c(prompt: str) -> str:
        held.release()
        raise KeyboardInterrupt

    summary = p.run(ANSWER, "", ctrl_c)
    assert summary.interrupted
    [attempt] = p.history.attempts()
    assert (attempt.rating, attempt.suggested) == ("easy", "easy")  # the suggestion, once
    assert attempt.grade is not None and attempt.grade.scorer == "judge"
    assert attempt.score == 0.5
    assert "judge on the last card: 0.50" in p.text


def test_a_verdict_still_out_at_the_end_is_left_and_the_embedding_grade_stays(
    practice: Callable[..., Practice], held: HeldServer
) -> None:
    p = practice(_rubric("x"), judge_wait=0.2)
    p.run(ANSWER, "", "")
    assert "The judge has not answered on the last card: the embedding grade stays." in p.text
    [attempt] = p.history.attempts()
    assert attempt.grade is not None and attempt.grade.scorer == "lexical"
    assert attempt.score == 1.0
