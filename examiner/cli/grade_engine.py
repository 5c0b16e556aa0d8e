"""`examiner grade --engine ray`: where the embedding stage of a file runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ..ray_engine import RayEngine
    from ..scoring.grader import Grader

__all__ = ["AddressOpt", "EngineOpt", "make_engine"]

_PANEL = "Large runs"

EngineOpt = Annotated[
    str,
    typer.Option(
        help="Where the embedding stage runs: local (this process) or ray (a pool of Ray "
        "actors, one model load each; needs `examiner\\[ray]`).",
        rich_help_panel=_PANEL,
    ),
]
AddressOpt = Annotated[
    str | None,
    typer.Option(
        help="With --engine ray: the cluster (auto: the one started here with `ray start`; "
        "ray://HOST:10001 for a remote one). Default: a Ray instance for this run alone.",
        rich_help_panel=_PANEL,
    ),
]


def make_engine(
    engine: str, address: str | None, grader: Grader, *, file: bool
) -> RayEngine | None:
    """The engine named on the command line, or None for this process."""
    if engine not in ("local", "ray"):
        raise typer.BadParameter("use local or ray", param_hint="--engine")
    if engine == "local":
        if address is not None:
            raise typer.BadParameter("only with --engine ray", param_hint="--address")
        return None
    if not file:
        raise typer.BadParameter(
            "a Ray cluster grades a submissions file, not one --card answer",
            param_hint="--engine",
        )
    from ..ray_engine import RayEngine

    return RayEngine(grader, address=address)
