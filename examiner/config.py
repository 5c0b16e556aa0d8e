"""Settings from the environment (and a `.env` file), in one written order.

Order of precedence, highest first: command-line flags, process environment,
`.env` in the current directory. Secrets are read here and nowhere else, and
neither `Settings` nor `JudgeSettings` ever shows the key in its repr.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypeVar

__all__ = [
    "JudgeMode",
    "JudgeSettings",
    "ResponseFormat",
    "Settings",
    "examiner_home",
    "judge_settings",
    "load_settings",
]

JudgeMode = Literal["off", "auto", "always"]
ResponseFormat = Literal["auto", "json_schema", "json_object", "none"]


def examiner_home() -> Path:
    """Where caches and practice history live: $EXAMINER_HOME or ~/.examiner."""
    return Path(os.environ.get("EXAMINER_HOME") or Path.home() / ".examiner")


@dataclass(frozen=True)
class Settings:
    embedding_model: str | None = None
    judge_model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    # Raw text, checked by `judge_settings`, which says which variable is wrong.
    judge_concurrency: str | None = None
    judge_timeout: str | None = None
    judge_weight: str | None = None

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
        judge_concurrency=os.environ.get("EXAMINER_JUDGE_CONCURRENCY") or None,
        judge_timeout=os.environ.get("EXAMINER_JUDGE_TIMEOUT") or None,
        judge_weight=os.environ.get("EXAMINER_JUDGE_WEIGHT") or None,
    )


@dataclass(frozen=True)
class JudgeSettings:
    """Everything the LLM judge stage needs. Nothing is sent unless `problem` is None.

    Build it with `judge_settings(...)`, which applies the precedence order.
    The key is kept out of `repr`, and examiner never writes it anywhere.
    """

    model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    mode: JudgeMode = "auto"
    # One request: seconds to wait for a reply, and the SDK's retries on
    # 408/409/429/5xx, connection errors and timeouts (Retry-After honoured).
    timeout: float = 60.0
    max_retries: int = 2
    # Re-asks that feed a validation error back to the model.
    max_reasks: int = 2
    concurrency: int = 8
    max_rpm: float | None = None
    temperature: float = 0.0
    seed: int = 7
    max_tokens: int = 2000
    response_format: ResponseFormat = "auto"
    # Route to the judge in `auto` mode below this embedding confidence.
    route_below: float = 0.6
    # Flag needs_review when the two stages' scores differ by more than this.
    disagreement_margin: float = 0.3
    # How far the judge's score moves the grade from the embedding stage's
    # (1: the judge's verified score). None: what the grader's calibration
    # fitted for this model, else 1.
    weight: float | None = None
    cache: bool = True
    cache_path: Path | None = None

    def __repr__(self) -> str:
        return (
            f"JudgeSettings(model={self.model!r}, base_url={self.base_url!r}, "
            f"api_key={'set' if self.api_key else 'unset'}, mode={self.mode!r}, "
            f"concurrency={self.concurrency}, max_rpm={self.max_rpm})"
        )

    __str__ = __repr__

    @property
    def problem(self) -> str | None:
        """Why the judge cannot be called (None when it can)."""
        if not self.model:
            return "no judge model: set EXAMINER_JUDGE_MODEL"
        if not self.api_key and not self.base_url:
            return (
                "no API key or base URL for the judge: set OPENAI_API_KEY, or OPENAI_BASE_URL "
                "for a local OpenAI-compatible server"
            )
        return None

    def cache_file(self) -> Path:
        return self.cache_path or examiner_home() / "judge-cache.sqlite3"


def judge_settings(
    *,
    mode: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    dotenv: Path | None = None,
    **options: object,
) -> JudgeSettings:
    """Judge settings in the written order: flag, then environment, then `.env`.

    `mode=None` means the default: `auto` when a judge model is configured,
    else `off`. Other keyword options (timeout, concurrency, max_rpm, …) are
    passed through to `JudgeSettings`.
    """
    from .errors import ConfigError

    env = load_settings(dotenv)
    resolved_model = model or env.judge_model
    if mode is None:
        mode = "auto" if resolved_model else "off"
    if mode not in ("off", "auto", "always"):
        raise ConfigError(
            f"the judge mode must be off, auto or always, not {mode!r}", setting="judge_mode"
        )
    settings = JudgeSettings(
        model=resolved_model,
        base_url=base_url or env.base_url,
        api_key=api_key or env.api_key,
        mode=mode,  # type: ignore[arg-type]
        concurrency=_env_number(env.judge_concurrency, "EXAMINER_JUDGE_CONCURRENCY", int, 8),
        timeout=_env_number(env.judge_timeout, "EXAMINER_JUDGE_TIMEOUT", float, 60.0),
        weight=None
        if env.judge_weight is None
        else _env_number(env.judge_weight, "EXAMINER_JUDGE_WEIGHT", float, 1.0),
    )
    settings = replace(settings, **{k: v for k, v in options.items() if v is not None})  # type: ignore[arg-type]
    _check(settings)
    return settings


_N = TypeVar("_N", int, float)


def _env_number(text: str | None, name: str, kind: type[_N], default: _N) -> _N:
    from .errors import ConfigError

    if text is None:
        return default
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(
            f"{name} must be a {'whole ' if kind is int else ''}number, not {text!r}",
            setting=name,
        ) from None


def _check(s: JudgeSettings) -> None:
    from .errors import ConfigError

    if s.concurrency < 1:
        raise ConfigError(
            f"concurrency must be at least 1, not {s.concurrency}", setting="concurrency"
        )
    if s.max_rpm is not None and s.max_rpm <= 0:
        raise ConfigError(
            f"requests per minute must be positive, not {s.max_rpm:g}", setting="max_rpm"
        )
    if s.timeout <= 0:
        raise ConfigError(
            f"the judge timeout must be positive, not {s.timeout:g}", setting="judge_timeout"
        )
    if s.weight is not None and not 0 <= s.weight <= 1:
        raise ConfigError(
            f"the judge weight must be between 0 and 1, not {s.weight:g}", setting="judge_weight"
        )
    if s.max_retries < 0 or s.max_reasks < 0:
        raise ConfigError("retries and re-asks cannot be negative")
    if s.response_format not in ("auto", "json_schema", "json_object", "none"):
        raise ConfigError(
            f"response format must be auto, json_schema, json_object or none, "
            f"not {s.response_format!r}"
        )
