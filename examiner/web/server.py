"""Running the app under uvicorn, and the lines `examiner serve` prints at start."""

from __future__ import annotations

from collections.abc import Callable

from .config import ServeConfig

__all__ = ["serve", "start_lines"]


def start_lines(config: ServeConfig, decks: list[str]) -> list[str]:
    """What a person needs at start: where to go, and the teacher's way in."""
    lines = [f"examiner serve: {config.url}/  (practice: {', '.join(decks) or 'no decks'})"]
    if config.token:
        lines.append(f"teacher pages: {config.url}/teacher?token={config.token}")
        lines.append("  keep this address to yourself: the token opens review, grading and exports")
    else:
        lines.append(f"teacher pages: {config.url}/teacher  (loopback only: no token needed)")
    lines.append("Ctrl-C stops the server")
    return lines


def serve(config: ServeConfig, say: Callable[[str], None] = print) -> None:
    """Serve until interrupted. Rubrics load now; the model loads on the first practice page."""
    import uvicorn

    from .app import create_app

    app = create_app(config)
    for line in start_lines(config, [d.title for d in app.state.decks]):
        say(line)
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        server_header=False,
        proxy_headers=False,  # no proxy in front: a client's X-Forwarded-For is not trusted
    )
