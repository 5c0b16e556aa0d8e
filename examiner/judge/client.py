"""Calls to any OpenAI-compatible chat-completions server, validated into pydantic models.

One `JudgeClient` holds one `openai.OpenAI` client (one connection pool) for
the whole run and is safe to share between threads.

- Structured outputs: the reply format is the model's JSON schema
  (`response_format={"type": "json_schema", ...}`). A server that refuses
  that (HTTP 400/422) is asked again in JSON mode (`{"type": "json_object"}`),
  then with no response format at all, the schema then being given in the
  prompt; the fallback sticks for the rest of the run. Every reply is
  validated by pydantic either way.
- Transport: a timeout per request, and the SDK's bounded retries with
  exponential backoff on timeouts, connection errors, 408/409/429 and 5xx;
  it honours `Retry-After` (and `retry-after-ms`) up to two minutes.
- Re-asks: a reply that does not validate is sent back with the validation
  errors, at most `max_reasks` times.
- Cut replies: a reply that stopped at the token budget (`finish_reason`
  "length") is never parsed, whatever it holds: it is asked again with twice
  the budget (up to `max_tokens`), as one of the re-asks, else it fails.
- Every failure becomes a `JudgeError` subclass whose message never contains
  the API key; tokens spent before the failure travel with it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ..config import JudgeSettings
from ..errors import JudgeConfigError, JudgeInvalidReply, JudgeUnavailable

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion

__all__ = ["JudgeClient", "RateLimiter", "Reply", "failure_message", "parse_reply", "reply_format"]

M = TypeVar("M", bound=BaseModel)

# A key is needed by the SDK; local servers (Ollama, llama.cpp) ignore it.
_NO_KEY = "no-key-configured"
_FORMATS = ("json_schema", "json_object", "none")
_MAX_ERRORS_SHOWN = 8


@dataclass(frozen=True)
class Reply(Generic[M]):
    """A validated reply and what it cost."""

    value: M
    raw: str
    tokens_in: int
    tokens_out: int
    calls: int


class RateLimiter:
    """At most `per_minute` requests a minute, spread evenly; shared by threads."""

    def __init__(self, per_minute: float | None) -> None:
        self._interval = 60.0 / per_minute if per_minute else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


class JudgeClient:
    """Asks the configured model for replies that validate as a pydantic model."""

    def __init__(self, settings: JudgeSettings, *, limiter: RateLimiter | None = None) -> None:
        problem = settings.problem
        if problem:
            raise JudgeConfigError(problem)
        import openai

        self.settings = settings
        self.model = str(settings.model)
        self._secret = settings.api_key or ""
        self._client = openai.OpenAI(
            api_key=settings.api_key or _NO_KEY,
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
        )
        fmt = settings.response_format
        self._format: str = "json_schema" if fmt == "auto" else fmt
        # Sampling options a server refused (400/422 naming them): not sent again.
        self._dropped: set[str] = set()
        self._limiter = limiter or RateLimiter(settings.max_rpm)
        # The SDK imports its chat resources on first use: do it now, once,
        # rather than in every worker thread racing for the first request.
        _ = self._client.chat.completions

    @property
    def response_format(self) -> str:
        """The reply format in use: json_schema, json_object or none."""
        return self._format

    def close(self) -> None:
        self._client.close()

    def server_slots(self) -> int | None:
        """How many requests the server serves at once, where it says (llama.cpp's /props).

        More requests than slots only queue on the server, where they spend
        their timeout waiting. Never asked of the OpenAI API (no base URL).
        """
        base = self.settings.base_url
        if not base:
            return None
        import httpx

        root = re.sub(r"/v1/?$", "", base.rstrip("/"))
        try:
            reply = httpx.get(f"{root}/props", timeout=3.0)
            slots = reply.json().get("total_slots") if reply.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        return slots if isinstance(slots, int) and slots > 0 else None

    def ask(
        self,
        messages: list[dict[str, str]],
        model_type: type[M],
        schema: dict[str, Any],
        *,
        name: str,
        check: Callable[[M], list[str]] | None = None,
        max_tokens: int | None = None,
    ) -> Reply[M]:
        """A reply that validates as `model_type` and passes `check`, or a JudgeError.

        `max_tokens`: the reply's token budget (at most the settings' `max_tokens`).
        """
        cap = self.settings.max_tokens
        budget = min(max_tokens or cap, cap)
        history = list(messages)
        tokens_in = tokens_out = 0
        problems: list[str] = []
        calls = 0
        for calls in range(1, self.settings.max_reasks + 2):
            try:
                content, used_in, used_out, cut = self._complete(history, schema, name, budget)
            except JudgeUnavailable as exc:
                exc.tokens_in += tokens_in
                exc.tokens_out += tokens_out
                raise
            tokens_in += used_in
            tokens_out += used_out
            if cut:
                # A cut reply may still parse (a closing brace of an inner object):
                # it is never read. Ask the same question with more room.
                problems = [f"the reply was cut at the token budget ({budget} tokens)"]
                if budget >= cap:
                    break
                budget = min(2 * budget, cap)
                continue
            value, problems = parse_reply(content, model_type, check)
            if value is not None:
                return Reply(value, content, tokens_in, tokens_out, calls)
            history += [
                {"role": "assistant", "content": content[:8000]},
                {"role": "user", "content": _reask(problems)},
            ]
        raise JudgeInvalidReply(
            f"the judge's reply was not a valid {name} after {calls} "
            f"{'try' if calls == 1 else 'tries'}: "
            f"{self._redact(problems[0]) if problems else 'no content'}",
            tokens_in=tokens_in,
            tokens_out=tokens_out,
        )

    def _complete(
        self, history: list[dict[str, str]], schema: dict[str, Any], name: str, budget: int
    ) -> tuple[str, int, int, bool]:
        """One chat completion (with the SDK's retries); falls back on the reply format.

        Returns the text, the tokens in and out, and whether the reply was cut.
        """
        import openai

        while True:
            fmt = self._format
            try:
                completion = self._create(history, schema, name, fmt, budget)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if self._adapt_to_refusal(_message(exc), fmt):
                    continue
                raise self._unavailable(
                    f"the server refused the request: {_message(exc)}"
                ) from None
            except openai.OpenAIError as exc:
                raise self._failure(exc) from None
            return _content(completion)

    def _create(
        self,
        history: list[dict[str, str]],
        schema: dict[str, Any],
        name: str,
        fmt: str,
        budget: int,
    ) -> ChatCompletion:
        self._limiter.wait()
        return self._client.chat.completions.create(
            model=self.model,
            messages=_with_format(history, fmt, schema),  # type: ignore[arg-type]
            temperature=self._option("temperature", self.settings.temperature),
            seed=self._option("seed", self.settings.seed),
            max_tokens=self._option("max_tokens", budget),
            max_completion_tokens=self._option("max_completion_tokens", budget),
            response_format=reply_format(fmt, schema, name),
        )

    def _adapt_to_refusal(self, message: str, fmt: str) -> bool:
        """After a 400/422: whether the request changed enough to be sent again.

        An option the server names is dropped; otherwise, in `auto`, the next
        reply format is tried.
        """
        if self._drop_refused_option(message):
            return True
        if self.settings.response_format == "auto" and fmt != "none":
            # Assume the server does not know this response format: try the next.
            self._format = _FORMATS[_FORMATS.index(fmt) + 1]
            return True
        return False

    def _failure(self, exc: Exception) -> JudgeUnavailable:
        return self._unavailable(failure_message(exc, self.settings))

    def _sent_options(self) -> list[str]:
        names = ["max_tokens", "temperature", "seed"]
        if "max_tokens" in self._dropped:
            names.append("max_completion_tokens")  # what newer OpenAI models want instead
        return [n for n in names if n not in self._dropped]

    def _option(self, name: str, value: float) -> Any:
        import openai

        return value if name in self._sent_options() else openai.omit

    def _drop_refused_option(self, message: str) -> bool:
        """Stop sending an option the server names in a 400/422; True if one was dropped."""
        text = message.lower()
        for name in self._sent_options():
            if re.search(rf"\b{name}\b", text):
                self._dropped.add(name)
                return True
        return False

    def _where(self) -> str:
        return self.settings.base_url or "the OpenAI API"

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _unavailable(self, message: str) -> JudgeUnavailable:
        return JudgeUnavailable(self._redact(message))


def failure_message(exc: Exception, settings: JudgeSettings) -> str:
    """What went wrong with a request to the server, in words a teacher can act on."""
    import openai

    where = settings.base_url or "the OpenAI API"
    tries = settings.max_retries + 1
    # Most specific first: a timeout is a connection error, a 401 or 404 a status error.
    if isinstance(exc, openai.APITimeoutError):
        return f"no reply within {settings.timeout:g} s (tried {tries} times)"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot reach the judge server at {where} (tried {tries} times)"
    if isinstance(exc, openai.AuthenticationError):
        return "the server refused the API key (401): check OPENAI_API_KEY"
    if isinstance(exc, openai.NotFoundError):
        return f"model {settings.model!r} not found at {where} (404): check EXAMINER_JUDGE_MODEL"
    if isinstance(exc, openai.APIStatusError):
        return f"server error {exc.status_code} after {tries} tries: {_message(exc)}"
    return f"{type(exc).__name__}: {exc}"


def _content(completion: ChatCompletion) -> tuple[str, int, int, bool]:
    """The reply's text (or the model's refusal, said as such), its tokens, whether cut."""
    usage = completion.usage
    used_in = usage.prompt_tokens if usage else 0
    used_out = usage.completion_tokens if usage else 0
    if not completion.choices:
        return "", used_in, used_out, False
    choice = completion.choices[0]
    content = choice.message.content or ""
    if not content and getattr(choice.message, "refusal", None):
        content = f"(refused: {choice.message.refusal})"
    return content, used_in, used_out, choice.finish_reason == "length"


def reply_format(fmt: str, schema: dict[str, Any], name: str) -> Any:
    import openai

    if fmt == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        }
    if fmt == "json_object":
        return {"type": "json_object"}
    return openai.omit


def _with_format(
    history: list[dict[str, str]], fmt: str, schema: dict[str, Any]
) -> list[dict[str, str]]:
    """Without server-side schemas, the schema goes into the prompt."""
    if fmt == "json_schema":
        return history
    note = (
        "Reply with one JSON object, and nothing else (no prose, no code fences), "
        "that matches this JSON schema:\n" + json.dumps(schema, ensure_ascii=False)
    )
    return [history[0], {"role": "system", "content": note}, *history[1:]]


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def _json_text(content: str) -> str:
    """The JSON object in a reply, without code fences or surrounding prose."""
    fenced = _FENCE.match(content)
    if fenced:
        content = fenced.group(1)
    start, end = content.find("{"), content.rfind("}")
    return content[start : end + 1] if 0 <= start < end else content


def parse_reply(
    content: str, model_type: type[M], check: Callable[[M], list[str]] | None = None
) -> tuple[M | None, list[str]]:
    """A reply's text validated as `model_type` (fences and prose around it ignored),
    or None and what is wrong with it."""
    if not content.strip():
        return None, ["the reply was empty"]
    try:
        value = model_type.model_validate_json(_json_text(content))
    except ValidationError as exc:
        return None, _errors(exc)
    problems = check(value) if check else []
    return (None, problems) if problems else (value, [])


def _errors(exc: ValidationError) -> list[str]:
    out = []
    for error in exc.errors(include_url=False)[:_MAX_ERRORS_SHOWN]:
        loc = ".".join(str(p) for p in error["loc"]) or "reply"
        out.append(f"{loc}: {error['msg']}")
    return out


def _reask(problems: list[str]) -> str:
    listed = "\n".join(f"- {p}" for p in problems)
    return (
        "Your reply is not valid:\n"
        f"{listed}\n"
        "Reply again with the corrected JSON object only, following the required format."
    )


def _message(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."
