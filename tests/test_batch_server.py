"""The scripted Batch + Files API fake, driven by the real `openai` client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion

from tests.batch_server import ScriptedBatchAPI
from tests.openai_server import Reply, Status


def _line(custom_id: str, text: str = "Hello?") -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "m", "messages": [{"role": "user", "content": text}]},
    }


def _jsonl(*lines: dict[str, Any] | str) -> bytes:
    return "".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines).encode()


def _rows(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    return [json.loads(t) for t in client.files.content(file_id).text.splitlines()]


def _start(client: openai.OpenAI, data: bytes, **metadata: str) -> str:
    upload = client.files.create(file=("in.jsonl", data), purpose="batch")
    batch = client.batches.create(
        input_file_id=upload.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata=metadata or None,
    )
    return batch.id


def _poll(client: openai.OpenAI, batch_id: str) -> tuple[Any, list[str]]:
    seen: list[str] = []
    for _ in range(10):
        batch = client.batches.retrieve(batch_id)
        seen.append(batch.status)
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            return batch, seen
    raise AssertionError(seen)


@pytest.fixture
def api() -> Iterator[ScriptedBatchAPI]:
    with ScriptedBatchAPI() as server:
        yield server


@pytest.fixture
def client(api: ScriptedBatchAPI) -> openai.OpenAI:
    return openai.OpenAI(base_url=api.base_url, api_key="k", max_retries=0)


def test_a_batch_runs_to_completion(api: ScriptedBatchAPI, client: openai.OpenAI) -> None:
    data = _jsonl(_line("q1"), _line("q2", "Déjà vu?"), _line("q3"))
    upload = client.files.create(file=("in.jsonl", data), purpose="batch")
    assert (upload.id, upload.bytes, upload.filename, upload.purpose, upload.status) == (
        "file-1",
        len(data),
        "in.jsonl",
        "batch",
        "processed",
    )
    assert api.file_bytes(upload.id) == data
    assert client.files.retrieve(upload.id).bytes == len(data)
    created = client.batches.create(
        input_file_id=upload.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"run": "r1"},
    )
    assert created.status == "validating"
    assert created.metadata == {"run": "r1"}
    assert created.output_file_id is None and created.errors is None
    assert api.created_batches[0]["input_file_id"] == upload.id

    batch, seen = _poll(client, created.id)
    assert seen == ["in_progress", "finalizing", "completed"]
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (3, 3)
    assert batch.request_counts.failed == 0
    assert batch.error_file_id is None and batch.completed_at is not None
    assert batch.model == "m" and batch.usage is not None and batch.usage.total_tokens > 0

    rows = _rows(client, batch.output_file_id)
    assert [r["custom_id"] for r in rows] == ["q1", "q2", "q3"]
    for row in rows:
        assert row["id"].startswith("batch_req_") and row["error"] is None
        assert row["response"]["status_code"] == 200
        assert row["response"]["request_id"].startswith("req_")
        completion = ChatCompletion.model_validate(row["response"]["body"])
        assert completion.model == "m" and completion.choices[0].message.content
    assert api.batch(created.id)["status"] == "completed"
    assert ("POST", "/v1/files") in api.requests
    assert api.requests.count(("GET", f"/v1/batches/{created.id}")) == 3


def test_scripted_lines_and_an_error_file(api: ScriptedBatchAPI, client: openai.OpenAI) -> None:
    api.script("bad", Status(500))
    api.script("cut", Reply("partial", finish_reason="length"))
    batch_id = _start(client, _jsonl(_line("ok"), _line("bad"), _line("cut")))
    batch, _ = _poll(client, batch_id)
    assert batch.status == "completed"
    assert batch.request_counts is not None and batch.request_counts.failed == 1
    out = _rows(client, batch.output_file_id)
    assert [r["custom_id"] for r in out] == ["ok", "cut"]
    cut = ChatCompletion.model_validate(out[1]["response"]["body"])
    assert (cut.choices[0].message.content, cut.choices[0].finish_reason) == ("partial", "length")
    (err,) = _rows(client, batch.error_file_id)
    assert err["custom_id"] == "bad" and err["error"] is None
    assert err["response"]["status_code"] == 500
    assert set(err["response"]["body"]["error"]) >= {"message", "type"}


def test_expiry_answers_only_the_first_lines(api: ScriptedBatchAPI, client: openai.OpenAI) -> None:
    batch_id = _start(client, _jsonl(_line("a"), _line("b"), _line("c")))
    api.expire(batch_id, answered=1)
    batch, seen = _poll(client, batch_id)
    assert seen[-1] == "expired" and batch.expired_at is not None
    assert [r["custom_id"] for r in _rows(client, batch.output_file_id)] == ["a"]
    errors = _rows(client, batch.error_file_id)
    assert [r["custom_id"] for r in errors] == ["b", "c"]
    assert all(r["response"] is None for r in errors)
    assert {r["error"]["code"] for r in errors} == {"batch_expired"}

    api.expire_after(0)  # the next batches expire having answered nothing
    batch, _ = _poll(client, _start(client, _jsonl(_line("x"))))
    assert batch.status == "expired" and batch.output_file_id is None


def test_cancel(client: openai.OpenAI) -> None:
    batch_id = _start(client, _jsonl(_line("a"), _line("b")))
    assert client.batches.retrieve(batch_id).status == "in_progress"
    cancelling = client.batches.cancel(batch_id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    batch = client.batches.retrieve(batch_id)
    assert batch.status == "cancelled" and batch.cancelled_at is not None
    assert batch.output_file_id is None
    errors = _rows(client, batch.error_file_id)
    assert [(r["custom_id"], r["error"]["code"]) for r in errors] == [
        ("a", "batch_cancelled"),
        ("b", "batch_cancelled"),
    ]
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(batch_id)


def test_validation_failures(client: openai.OpenAI) -> None:
    batch_id = _start(client, _jsonl(_line("a"), "not json", _line("a"), {"custom_id": "z"}))
    batch = client.batches.retrieve(batch_id)
    assert batch.status == "failed" and batch.failed_at is not None
    assert batch.errors is not None and batch.errors.data is not None
    found = [(e.code, e.line) for e in batch.errors.data]
    assert found == [
        ("invalid_json_line", 2),
        ("duplicate_custom_id", 3),
        ("missing_required_parameter", 4),
    ]
    assert client.batches.retrieve(batch_id).status == "failed"


def test_listing_pages_newest_first(client: openai.OpenAI) -> None:
    ids = [_start(client, _jsonl(_line("a")), n=str(n)) for n in range(3)]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == [ids[2], ids[1]] and page.has_more
    every = list(client.batches.list(limit=1))  # the SDK follows the cursor
    assert [b.id for b in every] == ids[::-1]
    assert next(b.id for b in every if (b.metadata or {}).get("n") == "1") == ids[1]


def test_files_delete_and_not_found(client: openai.OpenAI) -> None:
    upload = client.files.create(file=("in.jsonl", b"x\r\n\xc3\xa9\n"), purpose="batch")
    assert client.files.content(upload.id).content == b"x\r\n\xc3\xa9\n"
    deleted = client.files.delete(upload.id)
    assert (deleted.id, deleted.deleted) == (upload.id, True)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(upload.id)
    with pytest.raises(openai.NotFoundError):
        client.batches.create(
            input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_missing")
    assert client.files.create(file=("b.jsonl", b"{}"), purpose="batch").id != upload.id


def test_polls_to_finish() -> None:
    with ScriptedBatchAPI(polls_to_finish=0) as api:
        client = openai.OpenAI(base_url=api.base_url, api_key="k", max_retries=0)
        assert _poll(client, _start(client, _jsonl(_line("a"))))[1] == ["completed"]
        api.polls_to_finish = 2
        assert _poll(client, _start(client, _jsonl(_line("a"))))[1] == ["finalizing", "completed"]
