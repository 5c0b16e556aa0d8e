"""A small scripted fake of OpenAI's Batch API and Files API, for tests.

Stdlib only. It listens on 127.0.0.1 on a free port in a background thread
and answers, in the shapes the `openai` SDK parses (`FileObject`, `Batch`,
cursor pages):

- `POST /v1/files` (multipart), `GET /v1/files`, `GET /v1/files/{id}`,
  `GET /v1/files/{id}/content`, `DELETE /v1/files/{id}`;
- `POST /v1/batches`, `GET /v1/batches?limit=&after=` (newest first),
  `GET /v1/batches/{id}`, `POST /v1/batches/{id}/cancel`.

Time is counted in retrieves, not seconds: each `GET /v1/batches/{id}` moves
a batch one step, validating -> in_progress -> finalizing -> completed; it is
completed at retrieve number `polls_to_finish` (default 3; 0 or 1: at the
first). A bad input file (a line not JSON, or without custom_id, method, url
or body, or a duplicate custom_id) fails the batch at its first retrieve, with
`errors.data` naming the line. On completion every line is answered by a
behaviour from `tests.openai_server`: `Smart()` by default (a plausible
verdict read from the prompt), or what `script(custom_id, behaviour)` set:
`Reply(...)` (a completion) or `Status(code)` (a failed request, in the error
file). `expire_after(n)` / `expire(batch_id, answered=n)` make a batch expire
after answering its first n lines; `cancel` answers the same first n (0 unless
set) and marks the rest `batch_cancelled`.

    with ScriptedBatchAPI(polls_to_finish=2) as api:
        api.script("q2", Status(500))
        client = openai.OpenAI(base_url=api.base_url, api_key="k", max_retries=0)
        ...
        assert api.batch(batch_id)["status"] == "completed"

Output line: {"id": "batch_req_<n>", "custom_id": c, "error": null,
"response": {"status_code": 200, "request_id": "req_<n>", "body": <completion>}}.
Error line: the same with the status code and body {"error": {"message", "type"}},
or "response": null, "error": {"code": "batch_expired" | "batch_cancelled", "message"}.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.openai_server import Loopback, Reply, Slow, Smart, Status, _completion, _smart_reply

__all__ = ["Reply", "ScriptedBatchAPI", "Smart", "Status"]

Behaviour = Reply | Status | Smart | Slow
_STEPS = ("in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled")
_FINAL = frozenset({"failed", "completed", "expired", "cancelled"})
_STOPPED = {
    "batch_expired": "This request could not be executed before the completion window expired.",
    "batch_cancelled": "This request was not executed because the batch was cancelled.",
}


@dataclass
class _Run:
    """What the server knows of a batch beyond its public dict."""

    lines: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    polls_to_finish: int
    answered: int | None = None  # lines answered before it stops (expiry or cancel)
    expire: bool = False
    polls: int = 0


class ScriptedBatchAPI(Loopback):
    """The server. Use as a context manager, or call `close()`."""

    def __init__(self, *, polls_to_finish: int = 3, default: Behaviour | None = None) -> None:
        self.polls_to_finish = polls_to_finish
        self.default: Behaviour = default or Smart()
        self.requests: list[tuple[str, str]] = []
        self.created_batches: list[dict[str, Any]] = []
        self._files: dict[str, tuple[dict[str, Any], bytes]] = {}  # id -> (meta, bytes)
        self._batches: dict[str, dict[str, Any]] = {}
        self._runs: dict[str, _Run] = {}
        self._scripted: dict[str, Behaviour] = {}
        self._expire_next: int | None = None
        self._counter = 0  # request lines answered, for batch_req_<n> / req_<n>
        self._ids = {"file": 0, "batch": 0}
        self._lock = threading.Lock()
        self._serve(_handler_for(self), "scripted-batch-api")

    def script(self, custom_id: str, behaviour: Behaviour) -> None:
        """Answer the request line `custom_id` (in any batch) with `behaviour`."""
        with self._lock:
            self._scripted[custom_id] = behaviour

    def expire_after(self, answered: int | None) -> None:
        """Batches created from now on expire after answering `answered` lines (None: never)."""
        with self._lock:
            self._expire_next = answered

    def expire(self, batch_id: str, *, answered: int = 0) -> None:
        """This batch expires (instead of completing) after answering its first lines."""
        with self._lock:
            run = self._runs[batch_id]
            run.expire, run.answered = True, answered

    def file_bytes(self, file_id: str) -> bytes:
        with self._lock:
            return self._files[file_id][1]

    def batch(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._batches[batch_id])

    # -- called by the handler (under the lock) --------------------------------

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def _new_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def _add_file(self, filename: str, purpose: str, data: bytes) -> dict[str, Any]:
        file_id = f"file-{self._new_id('file')}"
        meta = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": None,
        }
        self._files[file_id] = (meta, data)
        return meta

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        self.created_batches.append(body)
        lines, errors = _validate(self._files[body["input_file_id"]][1])
        now = int(time.time())
        batch_id = f"batch_{self._new_id('batch')}"
        window = str(body.get("completion_window", "24h"))
        hours = int(window[:-1]) if window[:-1].isdigit() else 24
        batch: dict[str, Any] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body.get("endpoint", "/v1/chat/completions"),
            "model": next((ln["body"].get("model") for ln in lines), None),
            "input_file_id": body["input_file_id"],
            "completion_window": window,
            "status": "validating",
            "created_at": now,
            "expires_at": now + hours * 3600,
            "metadata": body.get("metadata"),
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "output_file_id": None,
            "error_file_id": None,
            "errors": None,
            "usage": None,
            **{f"{s}_at": None for s in _STEPS},
        }
        self._batches[batch_id] = batch
        run = _Run(lines, errors, self.polls_to_finish)
        if self._expire_next is not None:
            run.expire, run.answered = True, self._expire_next
        self._runs[batch_id] = run
        return batch

    def _advance(self, batch: dict[str, Any]) -> None:
        """One retrieve's worth of progress."""
        run, now, status = self._runs[batch["id"]], int(time.time()), batch["status"]
        if status in _FINAL:
            return
        if status == "validating" and run.errors:
            batch.update(status="failed", failed_at=now)
            batch["errors"] = {"object": "list", "data": run.errors}
            return
        batch["request_counts"]["total"] = len(run.lines)
        if status == "cancelling":
            self._finish(batch, run, "cancelled", run.answered or 0)
            return
        run.polls += 1
        if run.polls >= run.polls_to_finish:
            answered = run.answered if run.expire and run.answered is not None else len(run.lines)
            self._finish(batch, run, "expired" if run.expire else "completed", answered)
            return
        step = "finalizing" if run.polls == run.polls_to_finish - 1 else "in_progress"
        batch["status"] = step
        batch["in_progress_at"] = batch["in_progress_at"] or now
        if step == "finalizing":
            batch["finalizing_at"] = now

    def _finish(self, batch: dict[str, Any], run: _Run, status: str, answered: int) -> None:
        out: list[dict[str, Any]] = []
        err: list[dict[str, Any]] = []
        usage = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        stopped = "batch_expired" if status == "expired" else "batch_cancelled"
        for i, line in enumerate(run.lines):
            n = self._next()
            result: dict[str, Any] = {"id": f"batch_req_{n}", "custom_id": line["custom_id"]}
            if i >= answered:
                result.update(response=None, error={"code": stopped, "message": _STOPPED[stopped]})
                err.append(result)
                continue
            code, body = self._answer(line["custom_id"], line["body"])
            if code == 200:
                usage["input_tokens"] += body["usage"]["prompt_tokens"]
                usage["output_tokens"] += body["usage"]["completion_tokens"]
            response = {"status_code": code, "request_id": f"req_{n}", "body": body}
            result.update(response=response, error=None)
            (out if code == 200 else err).append(result)
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        now = int(time.time())
        batch.update(status=status, in_progress_at=batch["in_progress_at"] or now)
        batch["finalizing_at"] = batch["finalizing_at"] or now
        batch[f"{status}_at"] = now
        batch["request_counts"] = {
            "total": len(run.lines),
            "completed": len(out),
            "failed": len(err),
        }
        batch["usage"] = {
            **usage,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
        for key, rows in (("output", out), ("error", err)):
            if rows:
                data = "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")
                name = f"{batch['id']}_{key}.jsonl"
                batch[f"{key}_file_id"] = self._add_file(name, "batch_output", data)["id"]

    def _answer(self, custom_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        behaviour = self._scripted.get(custom_id, self.default)
        while isinstance(behaviour, Slow):  # no clock here: a slow reply is just a reply
            behaviour = behaviour.then or Smart()
        if isinstance(behaviour, Status):
            kind = "server_error" if behaviour.code >= 500 else "invalid_request_error"
            message = f"scripted status {behaviour.code}"
            return behaviour.code, behaviour.body or {"error": {"message": message, "type": kind}}
        reply = behaviour if isinstance(behaviour, Reply) else _smart_reply(body)
        return 200, _completion(body, reply)

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = max(1, min(100, int((query.get("limit") or ["20"])[0])))
        newest = list(reversed(self._batches.values()))
        if after := (query.get("after") or [""])[0]:
            ids = [b["id"] for b in newest]
            newest = newest[ids.index(after) + 1 :] if after in ids else []
        page = newest[:limit]
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(newest) > limit,
        }


def _validate(data: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The input file's request lines, and the errors OpenAI's validation would report."""
    lines: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, text in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            line = None
        if not isinstance(line, dict):
            message = "This line is not parseable as valid JSON."
            errors.append({"code": "invalid_json_line", "message": message, "line": number})
            continue
        missing = [k for k in ("custom_id", "method", "url", "body") if k not in line]
        if missing:
            message = f"Missing required parameter: '{missing[0]}'."
            code = "missing_required_parameter"
            errors.append({"code": code, "message": message, "line": number, "param": missing[0]})
            continue
        if not isinstance(line["body"], dict) or not isinstance(line["custom_id"], str):
            message = "The custom_id must be a string and the body a JSON object."
            errors.append({"code": "invalid_request", "message": message, "line": number})
            continue
        if line["custom_id"] in seen:
            message = f"The custom_id '{line['custom_id']}' is duplicated in the input file."
            errors.append({"code": "duplicate_custom_id", "message": message, "line": number})
            continue
        seen.add(line["custom_id"])
        lines.append(line)
    if not lines and not errors:
        errors.append({"code": "empty_file", "message": "The input file is empty.", "line": None})
    return lines, errors


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a multipart/form-data body: name -> (filename, bytes)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        return {}
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in raw.split(b"--" + match.group(1).encode("latin-1"))[1:-1]:
        head, _, data = part.partition(b"\r\n\r\n")
        name = re.search(rb'[;\s]name="([^"]*)"', head)
        filename = re.search(rb'filename="([^"]*)"', head)
        if name is not None:
            fields[name.group(1).decode()] = (
                filename.group(1).decode() if filename else None,
                data[:-2] if data.endswith(b"\r\n") else data,
            )
    return fields


def _not_found(what: str, ident: str) -> tuple[int, dict[str, Any]]:
    return 404, _error(f"No {what} found with id '{ident}'.")


def _error(message: str) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }


def _handler_for(api: ScriptedBatchAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # see tests/openai_server.py

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def _serve(self) -> None:
            raw = self._body()
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p][1:]  # without "v1"
            with api._lock:
                api.requests.append((self.command, self.path))
                try:
                    result = self._route(self.command, parts, raw, parse_qs(url.query))
                except (ValueError, KeyError, TypeError) as exc:
                    result = 400, _error(f"Invalid request: {exc!r}")
            code, data = result
            if isinstance(data, bytes):
                self._send(code, data, "application/octet-stream")
            else:
                self._send(code, json.dumps(data).encode("utf-8"), "application/json")

        def _route(
            self, method: str, parts: list[str], raw: bytes, query: dict[str, list[str]]
        ) -> tuple[int, dict[str, Any] | bytes]:
            padded: list[str | None] = [*parts, None, None, None]
            kind, ident, rest = padded[:3]
            if kind == "files":
                return self._files(method, ident, rest, raw)
            if kind != "batches":
                return 404, _error(f"Unknown path {self.path}.")
            if method == "POST" and ident is None:
                body = json.loads(raw or b"{}")
                if body.get("input_file_id") not in api._files:
                    return _not_found("file", str(body.get("input_file_id")))
                return 200, api._create(body)
            if method == "GET" and ident is None:
                return 200, api._list(query)
            batch = api._batches.get(ident or "")
            if batch is None:
                return _not_found("batch", str(ident))
            if method == "GET" and rest is None:
                api._advance(batch)
                return 200, batch
            if method == "POST" and rest == "cancel":
                if batch["status"] in _FINAL:
                    return 409, _error(f"Cannot cancel a batch with status '{batch['status']}'.")
                if batch["status"] != "cancelling":
                    batch.update(status="cancelling", cancelling_at=int(time.time()))
                return 200, batch
            return 404, _error(f"Unknown path {self.path}.")

        def _files(
            self, method: str, ident: str | None, rest: str | None, raw: bytes
        ) -> tuple[int, dict[str, Any] | bytes]:
            if ident is None:
                if method == "POST":
                    fields = _multipart(self.headers.get("Content-Type", ""), raw)
                    filename, data = fields["file"]
                    purpose = fields["purpose"][1].decode()
                    return 200, api._add_file(filename or "upload.jsonl", purpose, data)
                listed = [meta for meta, _ in reversed(api._files.values())]
                return 200, {"object": "list", "data": listed, "has_more": False}
            stored = api._files.get(ident)
            if stored is None:
                return _not_found("file", ident)
            if method == "DELETE" and rest is None:
                del api._files[ident]
                return 200, {"id": ident, "object": "file", "deleted": True}
            if method == "GET" and rest == "content":
                return 200, stored[1]
            if method == "GET" and rest is None:
                return 200, stored[0]
            return 404, _error(f"Unknown path {self.path}.")

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, code: int, payload: bytes, content_type: str) -> None:
            try:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
            except OSError:
                pass  # the client gave up

    return Handler
