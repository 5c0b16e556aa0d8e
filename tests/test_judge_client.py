"""The judge client against a real HTTP server on 127.0.0.1, through the real openai SDK."""

from __future__ import annotations

import json
import logging
import socket
import time

import pytest

from examiner.config import JudgeSettings
from examiner.errors import JudgeConfigError, JudgeInvalidReply, JudgeUnavailable
from examiner.judge.client import JudgeClient, RateLimiter
from examiner.judge.prompt import judge_messages
from examiner.judge.verdict import Verdict, card_problems, verdict_schema
from tests.conftest import JUDGE_KEY, scripted_judge
from tests.openai_server import Reply, ScriptedOpenAI, Slow, Status
from tests.test_judge_unit import ANSWER, CARD


def good_verdict() -> dict[str, object]:
    return {
        "key_points": [
            {
                "key_point_id": "same-size",
                "status": "covered",
                "quote": "SAME size as the input",
                "reason": "stated",
            },
            {"key_point_id": "padding", "status": "covered", "quote": "we pad", "reason": "said"},
            {"key_point_id": "centred", "status": "missing", "quote": "", "reason": "absent"},
        ],
        "misconceptions": [],
        "other_errors": [],
        "injection_attempt": False,
        "feedback": {"right": "Size and padding.", "missing": "Centring.", "next_step": "Read."},
        "overall_score": 0.7,
    }


def ask(client: JudgeClient, max_tokens: int | None = None):  # type: ignore[no-untyped-def]
    return client.ask(
        judge_messages(CARD, ANSWER, None),
        Verdict,
        verdict_schema(CARD),
        name="verdict",
        check=lambda v: card_problems(v, CARD),
        max_tokens=max_tokens,
    )


def test_a_correct_verdict_end_to_end(server: ScriptedOpenAI) -> None:
    server.script(Reply(good_verdict(), prompt_tokens=321, completion_tokens=45))
    client = JudgeClient(scripted_judge(server))
    reply = ask(client)
    assert reply.value.key_points[0].status == "covered"
    assert (reply.tokens_in, reply.tokens_out, reply.calls) == (321, 45, 1)
    (request,) = server.chat_requests
    body = request.body
    assert body["model"] == "scripted-judge" and body["temperature"] == 0 and body["seed"] == 7
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == verdict_schema(CARD)
    # The key goes in the Authorization header and nowhere else.
    assert request.headers.get("authorization") == f"Bearer {JUDGE_KEY}"
    others = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
    assert JUDGE_KEY not in json.dumps(others) and JUDGE_KEY.encode() not in request.raw


def test_malformed_json_then_a_good_reply_is_reasked(server: ScriptedOpenAI) -> None:
    server.script(Reply('{"key_points": [ this is not json'), Reply(good_verdict()))
    reply = ask(JudgeClient(scripted_judge(server)))
    assert reply.calls == 2
    second = server.chat_requests[1].messages
    assert second[-2] == {"role": "assistant", "content": '{"key_points": [ this is not json'}
    assert second[-1]["role"] == "user" and "not valid" in second[-1]["content"]


def test_a_verdict_that_does_not_fit_the_card_is_reasked_with_the_problem(
    server: ScriptedOpenAI,
) -> None:
    wrong = good_verdict()
    wrong["key_points"] = wrong["key_points"][:2]  # type: ignore[index]
    server.script(Reply(wrong), Reply(good_verdict()))
    assert ask(JudgeClient(scripted_judge(server))).calls == 2
    assert "centred" in server.chat_requests[1].messages[-1]["content"]


def test_replies_still_invalid_after_the_reasks_are_a_typed_error(server: ScriptedOpenAI) -> None:
    server.script(*[Reply("no JSON here", prompt_tokens=10, completion_tokens=3)] * 3)
    with pytest.raises(JudgeInvalidReply) as caught:
        ask(JudgeClient(scripted_judge(server, max_reasks=2)))
    assert len(server.chat_requests) == 3
    assert caught.value.tokens_in == 30 and caught.value.tokens_out == 9


def test_code_fences_around_the_json_are_accepted(server: ScriptedOpenAI) -> None:
    server.script(Reply("```json\n" + json.dumps(good_verdict()) + "\n```"))
    assert ask(JudgeClient(scripted_judge(server))).calls == 1


def test_429_with_retry_after_is_retried_after_waiting(server: ScriptedOpenAI) -> None:
    server.script(Status(429, {"Retry-After": "1"}), Reply(good_verdict()))
    started = time.monotonic()
    reply = ask(JudgeClient(scripted_judge(server)))
    assert reply.value.overall_score == 0.7
    first, second = server.chat_requests
    assert second.at - first.at >= 0.95  # Retry-After: 1 was honoured
    assert second.headers.get("x-stainless-retry-count") == "1"
    assert time.monotonic() - started < 3


def test_429_forever_is_bounded_then_a_typed_error(server: ScriptedOpenAI) -> None:
    server.script(*[Status(429, {"Retry-After": "0.1"})] * 5)
    with pytest.raises(JudgeUnavailable, match="429"):
        ask(JudgeClient(scripted_judge(server, max_retries=2)))
    assert len(server.chat_requests) == 3


def test_500_is_retried(server: ScriptedOpenAI) -> None:
    server.script(Status(500), Reply(good_verdict()))
    assert ask(JudgeClient(scripted_judge(server))).calls == 1
    assert len(server.chat_requests) == 2


def test_a_slow_reply_times_out_is_retried_then_fails(server: ScriptedOpenAI) -> None:
    server.script(Slow(3), Slow(3))
    started = time.monotonic()
    with pytest.raises(JudgeUnavailable, match=r"no reply within 0\.5 s"):
        ask(JudgeClient(scripted_judge(server, max_retries=1)))
    assert len(server.chat_requests) == 2
    assert time.monotonic() - started < 2.5


def test_an_unreachable_server_is_a_typed_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = JudgeSettings(
        model="m", base_url=f"http://127.0.0.1:{port}/v1", api_key=JUDGE_KEY, max_retries=0
    )
    with pytest.raises(JudgeUnavailable, match="cannot reach") as caught:
        ask(JudgeClient(settings))
    assert JUDGE_KEY not in str(caught.value)


def test_without_a_model_or_an_endpoint_nothing_is_sent() -> None:
    with pytest.raises(JudgeConfigError, match="EXAMINER_JUDGE_MODEL"):
        JudgeClient(JudgeSettings(api_key=JUDGE_KEY))
    with pytest.raises(JudgeConfigError, match="OPENAI_API_KEY"):
        JudgeClient(JudgeSettings(model="m"))


def test_a_server_without_json_schema_gets_json_mode_and_the_schema_in_the_prompt() -> None:
    with ScriptedOpenAI(json_schema=False) as server:  # replies by reading the prompt
        client = JudgeClient(scripted_judge(server))
        assert ask(client).calls == 1
        refused, fallback = server.chat_requests
        assert refused.body["response_format"]["type"] == "json_schema"
        assert fallback.body["response_format"] == {"type": "json_object"}
        assert '"key_point_id"' in fallback.text  # the schema travels in the prompt
        # The fallback sticks: the next answer goes straight to JSON mode.
        ask(client)
        assert server.chat_requests[2].body["response_format"] == {"type": "json_object"}
        assert client.response_format == "json_object"


def test_the_key_never_reaches_the_logs(
    server: ScriptedOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(Status(500), Reply("bad"), Reply(good_verdict()))
    with caplog.at_level(logging.DEBUG):
        ask(JudgeClient(scripted_judge(server)))
    assert caplog.records  # the SDK did log at debug level
    assert all(JUDGE_KEY not in r.getMessage() for r in caplog.records)
    assert JUDGE_KEY not in caplog.text


def test_the_rate_limit_spaces_requests() -> None:
    limiter = RateLimiter(per_minute=600)  # one every 0.1 s
    started = time.monotonic()
    for _ in range(4):
        limiter.wait()
    assert time.monotonic() - started >= 0.29
    unlimited = RateLimiter(None)
    started = time.monotonic()
    for _ in range(100):
        unlimited.wait()
    assert time.monotonic() - started < 0.05


def test_an_option_the_model_refuses_is_dropped(server: ScriptedOpenAI) -> None:
    refusal = {
        "error": {
            "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "type": "invalid_request_error",
        }
    }
    server.script(Status(400, body=refusal), Reply(good_verdict()))
    client = JudgeClient(scripted_judge(server))
    assert ask(client).calls == 1
    refused, accepted = server.chat_requests
    assert "max_tokens" in refused.body and "max_completion_tokens" not in refused.body
    assert "max_tokens" not in accepted.body and accepted.body["max_completion_tokens"] == 2000
    assert accepted.body["response_format"]["type"] == "json_schema"  # not mistaken for it
