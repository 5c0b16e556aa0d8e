"""Headers, CSRF tokens and the teacher token.

Why each piece:

- **Content-Security-Policy**: the app's pages load only their own stylesheet
  and script (`'self'`), run no inline script, post forms only to this
  server and cannot be framed. Even an answer that slipped through escaping
  could neither run nor fetch anything.
- **Host check**: bound to loopback, the app answers only requests addressed
  to a loopback name, so a web page elsewhere cannot reach it through DNS
  rebinding.
- **CSRF**: every POST form carries a token derived (HMAC) from a random
  cookie the browser holds; another site can make a browser post, but can
  read neither the cookie nor the page that has the token.
- **Teacher token**: compared in constant time; once given (`?token=` or the
  login form) the browser keeps a cookie signed with the server's secret,
  never the token itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .config import ServeConfig, is_loopback

__all__ = [
    "APP_CSP",
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "TEACHER_COOKIE",
    "SecurityHeaders",
    "csrf_token",
    "host_allowed",
    "new_session_id",
    "teacher_cookie_value",
    "token_matches",
    "valid_csrf",
]

CSRF_COOKIE = "examiner_session"
CSRF_FIELD = "csrf"
TEACHER_COOKIE = "examiner_teacher"

APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

_COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


def new_session_id() -> str:
    return secrets.token_urlsafe(24)


def _sign(secret: bytes, purpose: str, value: str) -> str:
    return hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def csrf_token(secret: bytes, session_id: str) -> str:
    """The token a form of this browser session must carry."""
    return _sign(secret, "csrf", session_id)


def valid_csrf(secret: bytes, session_id: str | None, token: str | None) -> bool:
    if not session_id or not token:
        return False
    return hmac.compare_digest(csrf_token(secret, session_id), token)


def token_matches(config: ServeConfig, given: str | None) -> bool:
    """Whether `given` is the teacher token (constant time)."""
    if config.token is None or not given:
        return False
    return hmac.compare_digest(config.token.encode(), given.strip().encode())


def teacher_cookie_value(config: ServeConfig) -> str:
    """What the teacher's cookie holds: proof of the token, not the token."""
    return _sign(config.secret, "teacher", config.token or "")


def host_allowed(config: ServeConfig, host_header: str | None) -> bool:
    """Bound to loopback, only requests addressed to a loopback name are answered."""
    if not is_loopback(config.host):
        return True
    if not host_header:
        return False
    name = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    return is_loopback(name)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecurityHeaders:
    """ASGI middleware: refuse foreign Host headers, add the security headers to every reply.

    A response that sets its own Content-Security-Policy (the report pages,
    which carry the reports' own) keeps it; every other gets `APP_CSP`.
    """

    def __init__(self, app: ASGIApp, config: ServeConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if not host_allowed(self.config, headers.get("host")):
            await _plain(send, 421, "This server answers only on its loopback address.")
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                present = {k.decode("latin-1").lower() for k, _ in raw}
                extra = dict(_COMMON_HEADERS)
                extra["content-security-policy"] = APP_CSP
                extra.setdefault("cache-control", "no-store")
                raw += [(k.encode(), v.encode()) for k, v in extra.items() if k not in present]
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, with_headers)


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
