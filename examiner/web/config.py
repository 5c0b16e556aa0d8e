"""What `examiner serve` serves, and the security that follows from where it listens.

On a loopback address only this machine can connect, so the pages are open
to whoever sits at it. On any other address the teacher's pages (review,
overrides, uploads, exports) need a token: the one given, or one generated
here and printed at start. Practice pages never need it.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import ConfigError

__all__ = ["MIN_TOKEN_LENGTH", "ScorerName", "ServeConfig", "is_loopback"]

ScorerName = Literal["auto", "embedding", "lexical"]

# A shorter teacher token could be guessed by anyone on the network.
MIN_TOKEN_LENGTH = 12


def is_loopback(host: str) -> bool:
    """Whether `host` is an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").casefold()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


@dataclass(frozen=True)
class ServeConfig:
    """Everything the app needs; `ServeConfig.build` checks it and fills in the defaults."""

    rubrics: tuple[Path, ...]
    db: Path
    history: Path | None = None  # None: the practice default, $EXAMINER_HOME/examiner.db
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    scorer: ScorerName = "auto"
    # Signs CSRF tokens and teacher cookies: new each start, so a restart logs everyone out.
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    uploads: Path | None = None  # None: `examiner-uploads/` beside the database
    max_upload_bytes: int = 20 * 1024 * 1024

    @classmethod
    def build(
        cls,
        rubrics: list[Path] | tuple[Path, ...],
        db: Path,
        *,
        history: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 8000,
        token: str | None = None,
        scorer: str = "auto",
    ) -> ServeConfig:
        """A checked configuration; a non-loopback host without a token gets a generated one."""
        if scorer not in ("auto", "embedding", "lexical"):
            raise ConfigError(
                f"the scorer must be auto, embedding or lexical, not {scorer!r}", setting="scorer"
            )
        if not 0 < port < 65536:
            raise ConfigError(f"port {port} is outside 1..65535", setting="port")
        if token is not None and len(token.strip()) < MIN_TOKEN_LENGTH:
            raise ConfigError(
                f"the teacher token must be at least {MIN_TOKEN_LENGTH} characters",
                setting="token",
            )
        if token is None and not is_loopback(host):
            token = secrets.token_urlsafe(18)
        return cls(
            rubrics=tuple(rubrics),
            db=db,
            history=history,
            host=host,
            port=port,
            token=token.strip() if token else None,
            scorer=scorer,  # type: ignore[arg-type]
        )

    @property
    def teacher_locked(self) -> bool:
        """Whether the teacher's pages ask for the token."""
        return self.token is not None

    @property
    def upload_dir(self) -> Path:
        return self.uploads or self.db.resolve().parent / "examiner-uploads"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"
