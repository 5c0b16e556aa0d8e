"""The teacher's pages behind the teacher token (when the server has one).

On loopback without `--token` there is none and the pages are open: only
this machine can connect. Otherwise a teacher logs in once, with `?token=`
in the printed address or the login form; the browser then keeps a cookie
that proves the token (see `security`). The token is never put in a page.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from .pages import page, read_form, set_cookie, text_field
from .security import TEACHER_COOKIE, teacher_cookie_value, token_matches

__all__ = ["NeedsTeacher", "TokenGiven", "is_teacher", "needs_teacher", "require_teacher", "router"]

router = APIRouter()


class NeedsTeacher(Exception):
    """A teacher's page asked for without the token: answered with the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class TokenGiven(Exception):
    """The right token in `?token=`: set the cookie and go to the page without it in the URL."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def is_teacher(request: Request) -> bool:
    config = request.app.state.config
    if not config.teacher_locked:
        return True
    cookie = request.cookies.get(TEACHER_COOKIE, "")
    return hmac.compare_digest(cookie.encode(), teacher_cookie_value(config).encode())


def require_teacher(request: Request) -> None:
    """A dependency of every teacher route."""
    if is_teacher(request):
        return
    path = request.url.path
    given = request.query_params.get("token")
    others = {k: v for k, v in request.query_params.items() if k != "token"}
    target = path + (f"?{urlencode(others)}" if others else "")
    if given is not None and token_matches(request.app.state.config, given):
        raise TokenGiven(target)
    raise NeedsTeacher(target)


def needs_teacher(request: Request, exc: Exception) -> Response:
    """The exception handler for NeedsTeacher: the login page, 401."""
    assert isinstance(exc, NeedsTeacher)
    wrong = request.query_params.get("token") is not None
    return _login_page(request, exc.next_url, "That token is not right." if wrong else "", 401)


def token_given(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TokenGiven)
    return _logged_in(request, exc.next_url)


def _safe_next(url: str) -> str:
    """Only a path on this server ('/teacher…'): a login link must not send anyone elsewhere."""
    return url if url.startswith("/teacher") and not url.startswith("//") else "/teacher"


def _logged_in(request: Request, next_url: str) -> Response:
    response = RedirectResponse(_safe_next(next_url), status_code=303)
    set_cookie(response, TEACHER_COOKIE, teacher_cookie_value(request.app.state.config))
    return response


def _login_page(request: Request, next_url: str, error: str, status: int) -> Response:
    return page(request, "login.html", status=status, next_url=_safe_next(next_url), error=error)


@router.get("/teacher/login")
async def login_form(request: Request, next: str = "/teacher") -> Response:
    return _login_page(request, next, "", 200)


@router.post("/teacher/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    next_url = text_field(form, "next") or "/teacher"
    if not request.app.state.config.teacher_locked or token_matches(
        request.app.state.config, text_field(form, "token")
    ):
        return _logged_in(request, next_url)
    return _login_page(request, next_url, "That token is not right.", 401)


@router.post("/teacher/logout")
async def logout(request: Request) -> Response:
    await read_form(request)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(TEACHER_COOKIE, path="/")
    return response
