"""A small scripted OpenAI-compatible chat-completions server, for tests and benchmarks.

Stdlib only. It listens on 127.0.0.1 on a free port in a background thread,
answers `POST /v1/chat/completions` (and `GET /v1/models`) in the shape of
OpenAI's API, including `usage`, and records every request it receives.

What it replies is scripted: `script(...)` queues behaviours, used one per
request, in order; when the queue is empty, the `default` behaviour answers
(by default `Smart()`, which builds a plausible verdict by reading the
request). Behaviours:

- `Reply(content)`: a completion whose message content is `content` (a
  dict/list is sent as JSON, a str as is: use a str for malformed JSON).
- `Status(code, headers, body)`: an HTTP error, e.g. 429 with `Retry-After`.
- `Slow(seconds, then)`: wait, then behave as `then` (default: `Smart()`).
- `Smart()`: a verdict (or a rubric draft) built from the rubric and answer
  in the prompt: a key point is covered when most of its words occur in one
  sentence of the answer, quoting that sentence verbatim.

    with ScriptedOpenAI(delay=0.2) as server:   # every reply 200 ms late
        settings = JudgeSettings(model="m", base_url=server.base_url, api_key="k")
        ...
        assert len(server.chat_requests) == 10
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = [
    "Recorded",
    "Reply",
    "ScriptedOpenAI",
    "Slow",
    "Smart",
    "Status",
    "smart_verdict",
]


@dataclass(frozen=True)
class Reply:
    content: str | dict[str, Any] | list[Any]
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Status:
    code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Smart:
    """Reads the request and answers sensibly (see `smart_verdict`)."""


@dataclass(frozen=True)
class Slow:
    seconds: float
    then: Reply | Status | Smart | None = None


Behaviour = Reply | Status | Smart | Slow


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    at: float

    @property
    def body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.raw or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def text(self) -> str:
        """All message contents, joined: what the model would read."""
        return "\n".join(str(m.get("content", "")) for m in self.messages)


class Loopback:
    """A real HTTP server on 127.0.0.1 (a free port), served by a daemon thread.

    Use as a context manager, or call `close()`.
    """

    def _serve(self, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=name,
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class ScriptedOpenAI(Loopback):
    """The server. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        *,
        delay: float = 0.0,
        json_schema: bool = True,
        default: Behaviour | None = None,
    ) -> None:
        self.delay = delay
        self.json_schema = json_schema
        self.default: Behaviour = default or Smart()
        # Set, it answers GET /props as llama.cpp's server does: {"total_slots": slots}.
        self.slots: int | None = None
        self.requests: list[Recorded] = []
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._serve(_handler_for(self), "scripted-openai")

    @property
    def chat_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._queue.extend(behaviours)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    def close(self) -> None:
        self._stop.set()  # a slow reply in progress stops waiting
        super().close()

    # -- called by the handler ------------------------------------------------

    def _record(self, rec: Recorded, *, take: bool = True) -> Behaviour:
        """Keep the request; a chat request takes the next scripted behaviour."""
        with self._lock:
            self.requests.append(rec)
            if not take:
                return self.default
            return self._queue.popleft() if self._queue else self.default

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stop.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here


def _handler_for(server: ScriptedOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without this, Nagle's
        # algorithm and delayed ACKs add ~40 ms to every reply.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            server._record(self._recorded(b""), take=False)
            if self.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})
            elif self.path.rstrip("/") == "/props" and server.slots is not None:
                # What llama.cpp's server says of itself (the judge reads total_slots).
                self._json(200, {"total_slots": server.slots})
            else:
                self._json(404, {"error": {"message": "not found", "type": "invalid_request"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            rec = self._recorded(raw)
            behaviour = server._record(rec)
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._json(404, {"error": {"message": "not found", "type": "invalid_request"}})
                return
            server._sleep(server.delay)
            while isinstance(behaviour, Slow):
                server._sleep(behaviour.seconds)
                behaviour = behaviour.then or Smart()
            if server._stop.is_set():
                return
            body = rec.body
            fmt = (body.get("response_format") or {}).get("type")
            if fmt == "json_schema" and not server.json_schema:
                self._json(
                    400,
                    {
                        "error": {
                            "message": "response_format type json_schema is not supported",
                            "type": "invalid_request_error",
                        }
                    },
                )
                return
            if isinstance(behaviour, Status):
                error = behaviour.body or {
                    "error": {"message": f"scripted status {behaviour.code}", "type": "scripted"}
                }
                self._json(behaviour.code, error, behaviour.headers)
                return
            reply = behaviour if isinstance(behaviour, Reply) else _smart_reply(body)
            self._json(200, _completion(body, reply))

        def _recorded(self, raw: bytes) -> Recorded:
            return Recorded(
                method=self.command,
                path=self.path,
                headers={k: v for k, v in self.headers.items()},
                raw=raw,
                at=time.monotonic(),
            )

        def _json(self, code: int, data: Any, headers: dict[str, str] | None = None) -> None:
            payload = json.dumps(data).encode("utf-8")
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
            except OSError:
                pass  # the client gave up (a timeout test)

    return Handler


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    content = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    prompt_tokens = reply.prompt_tokens if reply.prompt_tokens is not None else len(prompt) // 4
    completion_tokens = (
        reply.completion_tokens if reply.completion_tokens is not None else len(content) // 4 + 1
    )
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "scripted"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": reply.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


# -- the smart model ------------------------------------------------------------

_RUBRIC = re.compile(r"```json\n(.*?)\n```", re.DOTALL)
_ANSWER = re.compile(r"<<<ANSWER (\w+)>>>\n(.*?)\n<<<END ANSWER \1>>>", re.DOTALL)
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"[^.!?;\n]+[.!?;]?")
_STOP = frozenset(
    "the a an and or of to in on for is are be it its this that with as by at from we our "
    "you your they their so than then there which what when how why does do not".split()
)
_GRADER_TALK = re.compile(r"ignore|full marks|give .* marks|\"score\"|grader", re.IGNORECASE)


def _stems(text: str) -> set[str]:
    return {w[:5] for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def _best_sentence(texts: list[str], answer: str) -> tuple[float, str]:
    best, quote = 0.0, ""
    for match in _SENTENCE.finditer(answer):
        sentence = match.group(0).strip()
        said = _stems(sentence)
        for text in texts:
            wanted = _stems(text)
            if not wanted or not said:
                continue
            ratio = len(said & wanted) / len(wanted)
            if ratio > best:
                best, quote = ratio, sentence
    return best, quote


def smart_verdict(card: dict[str, Any], answer: str) -> dict[str, Any]:
    """A verdict like a careful model's, from word overlap; quotes are verbatim sentences."""
    points = []
    credit = 0.0
    for kp in card.get("key_points", []):
        ratio, quote = _best_sentence([kp["text"], *kp.get("also_accepted", [])], answer)
        status = "covered" if ratio >= 0.5 else "partial" if ratio >= 0.25 else "missing"
        credit += {"covered": 1.0, "partial": 0.5, "missing": 0.0}[status]
        points.append(
            {
                "key_point_id": kp["id"],
                "status": status,
                "quote": quote if status != "missing" else "",
                "reason": f"{ratio:.0%} of the point's words are in the answer",
            }
        )
    wrongs = []
    for m in card.get("misconceptions", []):
        ratio, quote = _best_sentence([m["text"], *m.get("also_phrased", [])], answer)
        if ratio >= 0.7:
            wrongs.append({"misconception_id": m["id"], "quote": quote, "reason": "stated"})
    n = max(len(points), 1)
    covered = [p["key_point_id"] for p in points if p["status"] == "covered"]
    missing = [p["key_point_id"] for p in points if p["status"] != "covered"]
    return {
        "key_points": points,
        "misconceptions": wrongs,
        "other_errors": [],
        "injection_attempt": bool(_GRADER_TALK.search(answer)),
        "feedback": {
            "right": f"You covered {', '.join(covered)}." if covered else "",
            "missing": f"Still missing: {', '.join(missing)}." if missing else "",
            "next_step": f"Learn {missing[0]} next." if missing else "Keep it up.",
        },
        "overall_score": round(credit / n, 3),
    }


def smart_draft(card: dict[str, Any]) -> dict[str, Any]:
    """A rubric draft: one key point per sentence of the reference answer."""
    sentences = [
        s.strip() for s in _SENTENCE.findall(card.get("reference_answer", "")) if s.strip()
    ]
    sentences = sentences[:5] or [card.get("question", "the answer")]
    points = [
        {"id": f"point-{i + 1}", "text": s, "weight": 1.0, "alternatives": []}
        for i, s in enumerate(sentences)
    ]
    return {
        "key_points": points,
        "misconceptions": [
            {
                "id": "opposite",
                "text": f"The opposite of: {sentences[0]}",
                "correction": sentences[0],
                "penalty": 0.25,
            }
        ],
    }


def _smart_reply(body: dict[str, Any]) -> Reply:
    text = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    rubric = _RUBRIC.search(text)
    card = json.loads(rubric.group(1)) if rubric else {}
    answer = _ANSWER.search(text)
    if answer is None:
        return Reply(smart_draft(card))
    return Reply(smart_verdict(card, answer.group(2)))
