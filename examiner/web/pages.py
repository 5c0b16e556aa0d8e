"""Rendering pages and reading forms: the template environment, CSRF, clear errors.

Templates are jinja2 with autoescaping on for every template, so every piece
of student text (answers, names, evidence) is escaped wherever it is shown.
Every page gets the form token of its browser session (`csrf`); every POST
handler reads its form through `read_form`, which refuses a missing or wrong
token before anything else is looked at.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.datastructures import FormData

from .. import __version__
from ..reports import numbers
from .security import CSRF_COOKIE, CSRF_FIELD, csrf_token, new_session_id, valid_csrf

__all__ = ["FormRefused", "environment", "page", "read_form", "session_id"]

STATUS_SYMBOLS = {"covered": "✔", "partial": "◐", "missing": "✘"}
LABEL_SYMBOLS = {"correct": "✔", "partial": "◐", "incorrect": "✘"}


class FormRefused(Exception):
    """A POST without a valid form token: answered 403 with a page that says what to do."""


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("examiner.web", "templates"),
        autoescape=True,  # every template: student text is never markup
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["score"] = numbers.score
    env.filters["points"] = numbers.points
    env.filters["percent"] = numbers.percent
    env.globals.update(
        version=__version__,
        status_symbols=STATUS_SYMBOLS,
        label_symbols=LABEL_SYMBOLS,
        csrf_field=CSRF_FIELD,
    )
    return env


def session_id(request: Request) -> tuple[str, bool]:
    """The browser session's id, and whether it is new (its cookie must then be set)."""
    existing = getattr(request.state, "session_id", None) or request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing, False
    created = new_session_id()
    request.state.session_id = created
    return created, True


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A rendered page, with this session's form token (and its cookie when new)."""
    sid, new = session_id(request)
    secret: bytes = request.app.state.config.secret
    html = (
        environment()
        .get_template(template)
        .render(
            csrf=csrf_token(secret, sid),
            teacher_locked=request.app.state.config.teacher_locked,
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status)
    if new:
        set_cookie(response, CSRF_COOKIE, sid)
    return response


def set_cookie(response: Any, name: str, value: str) -> None:
    # Strict: another site's link or form never carries it; HttpOnly: no script reads it.
    response.set_cookie(name, value, httponly=True, samesite="strict", path="/")


async def read_form(request: Request) -> FormData:
    """The posted form, once its CSRF token is checked (FormRefused otherwise)."""
    form = await request.form()
    token = form.get(CSRF_FIELD)
    secret: bytes = request.app.state.config.secret
    if not isinstance(token, str) or not valid_csrf(
        secret, request.cookies.get(CSRF_COOKIE), token
    ):
        raise FormRefused
    return form


def text_field(form: FormData, name: str, *, limit: int = 20_000) -> str:
    """A text field of the form ('' when absent), stripped of surrounding blanks."""
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""
