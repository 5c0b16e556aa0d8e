"""Settings from the environment (and a `.env` file), in one written order.

Order of precedence, highest first: command-line flags, process environment,
`.env` in the current directory. Secrets are read here and nowhere else, and
`Settings.__repr__` never shows them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Settings", "examiner_home", "load_settings"]


def examiner_home() -> Path:
    """Where caches and practice history live: $EXAMINER_HOME or ~/.examiner."""
    return Path(os.environ.get("EXAMINER_HOME") or Path.home() / ".examiner")


@dataclass(frozen=True)
class Settings:
    embedding_model: str | None = None
    judge_model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        key = "set" if self.api_key else "unset"
        return (
            f"Settings(embedding_model={self.embedding_model!r}, judge_model={self.judge_model!r}, "
            f"base_url={'set' if self.base_url else 'unset'}, api_key={key})"
        )


def load_settings(dotenv: Path | None = None) -> Settings:
    """Read settings; values already in the environment win over `.env`."""
    path = dotenv or Path.cwd() / ".env"
    if path.is_file():
        from dotenv import load_dotenv

        load_dotenv(path, override=False)
    return Settings(
        embedding_model=os.environ.get("EXAMINER_EMBEDDING_MODEL") or None,
        judge_model=os.environ.get("EXAMINER_JUDGE_MODEL") or None,
        base_url=os.environ.get("OPENAI_BASE_URL") or None,
        api_key=os.environ.get("OPENAI_API_KEY") or None,
    )
