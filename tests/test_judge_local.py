"""What a slow local model showed the judge must do, against the scripted server.

A reply cut at the token budget is never read as a verdict; the budget comes
from the card; a server with few slots gets no more requests than it serves;
a verdict whose quotes are mostly not in the answer counts for nothing; the
teacher's graded answers reach the prompt; drafts that repeat themselves are
asked again. (`test_real_judge.py` runs the same paths against the real model.)
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from examiner.config import judge_settings
from examiner.errors import ConfigError, JudgeInvalidReply
from examiner.judge.client import JudgeClient
from examiner.judge.drafting import CardDraft, DraftKeyPoint, _check
from examiner.judge.stage import JudgeStage
from examiner.judge.verdict import reply_budget
from examiner.models import Flag, Submission
from examiner.scoring.examples import ExampleBank, GradedExample
from tests.conftest import scripted_judge
from tests.openai_server import Reply, ScriptedOpenAI, Slow
from tests.test_judge_client import ask, good_verdict
from tests.test_judge_stage import make_grader, verdict_for
from tests.test_judge_unit import CARD

GOOD = (
    "The gradient points in the direction of steepest increase of the loss, so we step "
    "against it and update the weights; backpropagation gets it with the chain rule."
)


def test_a_reply_cut_at_the_budget_is_never_parsed_and_is_asked_again_with_more_room(
    server: ScriptedOpenAI,
) -> None:
    # A complete, valid verdict, but the server says it stopped at max_tokens.
    server.script(Reply(good_verdict(), finish_reason="length"), Reply(good_verdict()))
    reply = ask(JudgeClient(scripted_judge(server, max_tokens=4000)), 500)
    assert reply.calls == 2
    first, second = server.chat_requests
    assert first.body["max_tokens"] == 500 and second.body["max_tokens"] == 1000
    # Asked afresh, not with the cut text fed back as if it were an answer.
    assert len(second.messages) == len(first.messages)


def test_a_reply_still_cut_at_the_cap_fails_cleanly(server: ScriptedOpenAI) -> None:
    server.script(*[Reply(good_verdict(), finish_reason="length")] * 3)
    client = JudgeClient(scripted_judge(server, max_tokens=800, max_reasks=2))
    with pytest.raises(JudgeInvalidReply, match="cut at the token budget"):
        ask(client, 400)
    assert [r.body["max_tokens"] for r in server.chat_requests] == [400, 800]


def test_the_token_budget_grows_with_the_card() -> None:
    small = CARD.model_copy(update={"key_points": CARD.key_points[:1], "misconceptions": []})
    assert reply_budget(small) < reply_budget(CARD) <= 2000


def test_the_stage_sends_the_cards_budget(embedder, cnn_rubric, server) -> None:  # type: ignore[no-untyped-def]
    with make_grader(embedder, cnn_rubric, scripted_judge(server)) as grader:
        grader.grade(2, GOOD)
    (request,) = server.chat_requests
    assert request.body["max_tokens"] == reply_budget(cnn_rubric.card("2"))


def test_no_more_requests_in_flight_than_the_server_has_slots(
    embedder, cnn_rubric, server: ScriptedOpenAI
) -> None:  # type: ignore[no-untyped-def]
    server.slots = 1
    server.default = Slow(0.3)
    notices: list[str] = []
    settings = scripted_judge(server, concurrency=8, timeout=5.0)
    answers = [f"{GOOD} ({i})" for i in range(4)]
    with make_grader(embedder, cnn_rubric, settings) as grader:
        items = [
            (cnn_rubric.card("2"), Submission(student_id=str(i), card="2", answer=a),
             grader.scorer.score_batch([(cnn_rubric.card("2"), Submission(
                 student_id=str(i), card="2", answer=a))])[0])
            for i, a in enumerate(answers)
        ]  # fmt: skip
    with JudgeStage(settings, notice=notices.append) as stage:
        grades = list(stage.judge_many(items))
    assert all(g.scorer == "judge" for g in grades)
    chats = sorted(server.chat_requests, key=lambda r: r.at)
    gaps = [b.at - a.at for a, b in pairwise(chats)]
    assert len(chats) == 4 and min(gaps) >= 0.25  # one at a time: each waited for the last
    assert any("serves 1 request(s) at once" in n for n in notices)


def test_judge_concurrency_and_timeout_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXAMINER_JUDGE_CONCURRENCY", "2")
    monkeypatch.setenv("EXAMINER_JUDGE_TIMEOUT", "300")
    settings = judge_settings(model="m", base_url="http://127.0.0.1:1/v1")
    assert (settings.concurrency, settings.timeout) == (2, 300.0)
    # A flag still wins over the environment.
    assert judge_settings(model="m", base_url="http://x", concurrency=5).concurrency == 5
    monkeypatch.setenv("EXAMINER_JUDGE_CONCURRENCY", "two")
    with pytest.raises(ConfigError, match="EXAMINER_JUDGE_CONCURRENCY must be a whole number"):
        judge_settings(model="m", base_url="http://127.0.0.1:1/v1")


def test_a_verdict_whose_quotes_are_mostly_not_in_the_answer_counts_for_nothing(
    embedder, cnn_rubric, server
) -> None:  # type: ignore[no-untyped-def]
    answer = "The gradient shows where the loss grows fastest."
    reply = verdict_for(cnn_rubric, "2", answer)
    for point in reply["key_points"]:  # a small model quoting the rubric, not the answer
        point.update(status="covered", quote=cnn_rubric.card("2").key_points[0].text)
    server.script(Reply(reply))
    with make_grader(embedder, cnn_rubric, scripted_judge(server)) as grader:
        first = grader.scorer.score_batch(
            [(cnn_rubric.card("2"), Submission(student_id="me", card="2", answer=answer))]
        )[0]
        grade = grader.grade(2, answer)
    assert grade.score == first.score and grade.scorer == first.scorer
    assert {Flag.UNVERIFIED_QUOTE, Flag.NEEDS_REVIEW} <= set(grade.flags)
    assert any("its verdict is not evidence" in n for n in grade.notes)
    assert grade.judge is not None  # the reviewer still sees what the judge said


def test_one_invented_quote_among_good_ones_downgrades_only_its_point(
    embedder, cnn_rubric, server
) -> None:  # type: ignore[no-untyped-def]
    reply = verdict_for(cnn_rubric, "2", GOOD)
    credited = [p for p in reply["key_points"] if p["status"] != "missing"]
    assert len(credited) >= 3
    credited[0].update(quote="a sentence the student never wrote about weights")
    server.script(Reply(reply))
    with make_grader(embedder, cnn_rubric, scripted_judge(server)) as grader:
        grade = grader.grade(2, GOOD)
    assert grade.scorer == "judge" and Flag.UNVERIFIED_QUOTE in grade.flags
    statuses = {r.key_point_id: r.status for r in grade.key_points}
    assert statuses[credited[0]["key_point_id"]] != "covered"
    assert statuses[credited[1]["key_point_id"]] == credited[1]["status"]


def test_the_teachers_closest_graded_answers_are_in_the_prompt_and_the_cache_key(
    embedder, cnn_rubric, server
) -> None:  # type: ignore[no-untyped-def]
    bank = ExampleBank(
        [
            GradedExample("gradient-direction", "We follow the gradient downhill.", 0.0),
            GradedExample("gradient-direction", "Step against the gradient, it points up.", 1.0),
            GradedExample("cross-entropy", "It measures the loss.", 0.5),
        ]
    )
    card = cnn_rubric.card("2")
    sub = Submission(student_id="me", card=card.id, answer=GOOD)
    with make_grader(embedder, cnn_rubric, scripted_judge(server)) as grader:
        first = grader.scorer.score_batch([(card, sub)])[0]
    settings = scripted_judge(server)
    with JudgeStage(settings, examples=bank.for_judge(embedder)) as stage:
        stage.judge(card, sub, first)
    with JudgeStage(settings) as stage:
        stage.judge(card, sub, first)
    with_examples, without = server.chat_requests
    assert 'graded 1.00: "Step against the gradient, it points up."' in with_examples.text
    assert 'graded 0.00: "We follow the gradient downhill."' in with_examples.text
    assert "It measures the loss." not in with_examples.text  # another card's
    assert "graded 1.00" not in without.text


def test_a_draft_that_repeats_itself_is_refused_and_weights_are_brought_into_range() -> None:
    point = {"id": "a", "text": "The loss goes down.", "weight": 5, "alternatives": []}
    draft = CardDraft(
        key_points=[DraftKeyPoint(**point), DraftKeyPoint(**{**point, "id": "b"})],
        misconceptions=[],
    )
    assert draft.key_points[0].weight == 3.0
    assert any("different fact" in p for p in _check(draft))
    fine = CardDraft(
        key_points=[
            DraftKeyPoint(**point),
            DraftKeyPoint(**{**point, "id": "b", "text": "Other."}),
        ],
        misconceptions=[],
    )
    assert _check(fine) == []
