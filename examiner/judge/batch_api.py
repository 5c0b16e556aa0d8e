"""The judge's requests as one job of the OpenAI Batch API (`examiner grade --judge-batch`).

The Batch API takes a JSONL file of requests, answers them within 24 hours
at half the price of live calls, and hands back a JSONL file of replies (and
one of failed requests). Each request here is exactly the live judge's
request (the same messages, schema, sampling settings and token budget), in
the strict `json_schema` reply format; there is no re-ask: a reply that does
not validate, or was cut at its budget, fails that answer only, which keeps
its embedding grade, flagged.

`BatchAPI` finds, submits and reads batches through the `openai` client's
`files` and `batches` resources; the same files run offline through vLLM's
batch runner (`python -m vllm.entrypoints.openai.run_batch`), whose output
lines have the same shape: `read_results` reads both.

A batch carries examiner's own name for it in its metadata (`token`, a hash
of the run and of the requests), so a process killed after creating a batch
but before storing its id finds it again instead of submitting the answers
twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..config import JudgeSettings
from ..errors import JudgeUnavailable
from .client import failure_message, reply_format

__all__ = [
    "ENDPOINT",
    "BatchAPI",
    "BatchState",
    "LineResult",
    "batch_token",
    "read_results",
    "request_body",
    "request_line",
]

ENDPOINT: Final = "/v1/chat/completions"
WINDOW: Final = "24h"
_TERMINAL = frozenset({"completed", "expired", "cancelled", "failed"})
# Batches looked through for one of ours whose id was never stored.
_FIND_LIMIT = 500
_META_KEY = "examiner_batch"


@dataclass(frozen=True)
class BatchState:
    """What the API says of one batch."""

    batch_id: str
    status: str
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    errors: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        """No more replies will come: completed, expired, cancelled or failed."""
        return self.status in _TERMINAL

    @property
    def counts(self) -> dict[str, int]:
        return {"total": self.total, "completed": self.completed, "failed": self.failed}


@dataclass(frozen=True)
class LineResult:
    """One request's outcome: the reply's text, or why there is none."""

    content: str | None
    tokens_in: int = 0
    tokens_out: int = 0
    cut: bool = False
    error: str | None = None


def request_body(
    settings: JudgeSettings,
    messages: list[dict[str, str]],
    schema: dict[str, Any],
    *,
    name: str,
    max_tokens: int,
) -> dict[str, Any]:
    """The chat-completions request the live judge sends first, as a JSON body."""
    return {
        "model": settings.model,
        "messages": messages,
        "temperature": settings.temperature,
        "seed": settings.seed,
        "max_tokens": min(max_tokens, settings.max_tokens),
        "response_format": reply_format("json_schema", schema, name),
    }


def request_line(custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """One line of a Batch API input file."""
    return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}


def batch_token(run_key: str, custom_ids: Iterable[str]) -> str:
    """Examiner's name for the batch of these requests in this run (the same every time)."""
    digest = hashlib.sha256(run_key.encode())
    for custom_id in sorted(set(custom_ids)):
        digest.update(custom_id.encode() + b"\n")
    return digest.hexdigest()[:32]


def read_results(text: str, *, source: str = "the batch's results") -> dict[str, LineResult]:
    """The outcome of each request in an output or error file, by custom_id.

    Reads the Batch API's files and vLLM's batch runner's alike. A line that
    cannot be read is skipped (its answer then has no result, and says so).
    """
    results: dict[str, LineResult] = {}
    for raw in text.splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            custom_id = str(line["custom_id"])
        except (ValueError, KeyError, TypeError):
            continue
        results[custom_id] = _line_result(line, source)
    return results


def _line_result(line: dict[str, Any], source: str) -> LineResult:
    response = line.get("response") or {}
    error = line.get("error")
    body = response.get("body") if isinstance(response, dict) else None
    status = response.get("status_code") if isinstance(response, dict) else None
    if error or status != 200 or not isinstance(body, dict):
        return LineResult(None, error=_error_text(error, status, body, source))
    usage = body.get("usage") or {}
    choices = body.get("choices") or []
    if not choices:
        return LineResult(None, error=f"{source}: a reply with no choices")
    choice = choices[0]
    message = choice.get("message") or {}
    content = message.get("content") or ""
    if not content and message.get("refusal"):
        content = f"(refused: {message['refusal']})"
    return LineResult(
        content,
        tokens_in=int(usage.get("prompt_tokens") or 0),
        tokens_out=int(usage.get("completion_tokens") or 0),
        cut=choice.get("finish_reason") == "length",
    )


def _error_text(error: Any, status: Any, body: Any, source: str) -> str:
    if isinstance(error, dict):
        code = error.get("code") or "error"
        return f"{source}: {code}: {error.get('message') or 'no message'}"
    message = ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = str(body["error"].get("message") or "")
    return f"{source}: the request failed with HTTP {status}" + (f": {message}" if message else "")


class BatchAPI:
    """Submit and read batches; every failure is a `JudgeUnavailable` that says what to do."""

    def __init__(self, settings: JudgeSettings) -> None:
        import openai

        self.settings = settings
        self._client = openai.OpenAI(
            api_key=settings.api_key or "no-key-configured",
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> BatchAPI:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def submit(self, lines: Sequence[dict[str, Any]], token: str) -> BatchState:
        """Upload the requests and create their batch, unless a batch named `token` exists."""
        found = self.find(token)
        if found is not None:
            return found
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        try:
            uploaded = self._client.files.create(
                file=(f"examiner-{token}.jsonl", data.encode("utf-8")), purpose="batch"
            )
            batch = self._client.batches.create(
                input_file_id=uploaded.id,
                endpoint=ENDPOINT,
                completion_window=WINDOW,
                metadata={_META_KEY: token},
            )
        except Exception as exc:
            raise self._unavailable("submitting the batch", exc) from None
        return _state(batch)

    def find(self, token: str) -> BatchState | None:
        """A batch this examiner created for `token`, among the most recent ones."""
        try:
            for seen, batch in enumerate(self._client.batches.list(limit=100)):
                if (batch.metadata or {}).get(_META_KEY) == token:
                    return _state(batch)
                if seen >= _FIND_LIMIT:
                    break
        except Exception as exc:
            raise self._unavailable("listing the batches", exc) from None
        return None

    def state(self, batch_id: str) -> BatchState:
        try:
            return _state(self._client.batches.retrieve(batch_id))
        except Exception as exc:
            raise self._unavailable(f"asking for batch {batch_id}", exc) from None

    def results(self, state: BatchState) -> dict[str, LineResult]:
        """Every reply and failure the batch's output and error files hold."""
        results: dict[str, LineResult] = {}
        for file_id, what in ((state.error_file_id, "errors"), (state.output_file_id, "output")):
            if not file_id:
                continue
            try:
                text = self._client.files.content(file_id).text
            except Exception as exc:
                raise self._unavailable(f"reading the batch's {what} file {file_id}", exc) from None
            results.update(read_results(text, source=f"batch {state.batch_id}"))
        return results

    def _unavailable(self, doing: str, exc: Exception) -> JudgeUnavailable:
        message = f"{doing}: {failure_message(exc, self.settings)}"
        secret = self.settings.api_key
        return JudgeUnavailable(message.replace(secret, "***") if secret else message)


def _state(batch: Any) -> BatchState:
    counts = batch.request_counts
    errors = batch.errors.data if batch.errors is not None and batch.errors.data else []
    return BatchState(
        batch_id=batch.id,
        status=batch.status,
        input_file_id=batch.input_file_id,
        output_file_id=batch.output_file_id,
        error_file_id=batch.error_file_id,
        total=counts.total if counts else 0,
        completed=counts.completed if counts else 0,
        failed=counts.failed if counts else 0,
        errors=tuple(
            f"{e.code or 'error'}"
            + (f" (line {e.line})" if e.line else "")
            + f": {e.message or ''}"
            for e in errors
        ),
    )
