"""The app: the routes, the security middleware, the shared state of one server process."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from . import auth, practice_routes, report_routes, review_routes, teacher_routes
from .config import ServeConfig
from .decks import Decks, GraderFactory
from .jobs import Jobs
from .pages import FormRefused, page
from .practice_flow import SpentNonces
from .security import SecurityHeaders

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"


def create_app(config: ServeConfig, *, grader_factory: GraderFactory | None = None) -> FastAPI:
    """The web app for `config`. Loads the rubrics now (a bad one fails here), no model yet.

    `grader_factory(rubric, notice)` makes each deck's grader (default: the
    scorer the configuration names, the judge as configured); tests pass one.
    """
    app = FastAPI(
        title="examiner",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # no API pages: nothing here is meant for another program
    )
    app.state.config = config
    app.state.decks = Decks(config, grader_factory)
    app.state.jobs = Jobs(config.db)
    app.state.spent = SpentNonces()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (practice_routes, auth, teacher_routes, review_routes, report_routes):
        app.include_router(module.router)
    app.add_exception_handler(auth.NeedsTeacher, auth.needs_teacher)
    app.add_exception_handler(auth.TokenGiven, auth.token_given)
    app.add_exception_handler(FormRefused, _form_refused)
    app.add_middleware(SecurityHeaders, config=config)
    return app


def _form_refused(request: Request, _exc: Exception) -> Response:
    message = (
        "This form has expired or did not come from this site. Go back, reload the page and "
        "send it again."
    )
    return page(request, "error.html", status=403, title="Form refused", message=message)
