"""Every error examiner raises on purpose.

Each message says what went wrong, where (file, line or row, field) and, where
there is one, how to fix it. Only the CLI turns these into exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ConfigError",
    "DeckError",
    "ExaminerError",
    "InputError",
    "JudgeConfigError",
    "JudgeError",
    "JudgeInvalidReply",
    "JudgeUnavailable",
    "MissingExtraError",
    "ModelLoadError",
    "Problem",
    "RubricError",
    "StoreError",
    "SubmissionsError",
    "UnknownCardError",
]


class ExaminerError(Exception):
    """Base class: a problem the user can fix, reported without a traceback.

    `setting` names the setting at fault in the library's own words ("db",
    "judge_model", "concurrency", …). The core never names a command-line
    flag: the CLI maps the setting to its flag and adds that as the hint.
    """

    def __init__(self, message: str = "", *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, with its location."""

    path: str
    line: int | None
    message: str
    field: str | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        field = f" [{self.field}]" if self.field else ""
        return f"{where}{field}: {self.message}"


class InputError(ExaminerError):
    """An input file has one or more problems; `problems` lists them all."""

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("InputError needs at least one problem")
        self.problems = problems
        first = str(problems[0])
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)

    @classmethod
    def at(
        cls, path: str | Path, line: int | None, message: str, field: str | None = None
    ) -> InputError:
        return cls([Problem(str(path), line, message, field)])


class DeckError(InputError):
    """A deck file cannot be read as flashcards."""


class RubricError(InputError):
    """A rubric file is not valid."""


class SubmissionsError(InputError):
    """A submissions file cannot be read at all (a bad row is reported, not raised)."""


class UnknownCardError(ExaminerError):
    """An answer names a card the rubric does not have."""


class ModelLoadError(ExaminerError):
    """The embedding model cannot be loaded."""


class MissingExtraError(ExaminerError):
    """What was asked for needs an optional part of examiner that is not installed.

    Not a `ModelLoadError`: falling back to the lexical scorer would hide that
    the user named a model examiner cannot run here.
    """


class ConfigError(ExaminerError):
    """A setting or flag has a value examiner cannot use."""


class StoreError(ExaminerError):
    """The database cannot be opened, is of an unknown version, or lacks what was asked."""


class JudgeError(ExaminerError):
    """The LLM judge could not give a usable verdict; the embedding grade stands.

    `tokens_in` and `tokens_out` count what was spent before giving up, so a
    failed answer still shows its cost. Messages never contain the API key.
    """

    def __init__(
        self,
        message: str,
        *,
        tokens_in: int = 0,
        tokens_out: int = 0,
        setting: str | None = None,
    ) -> None:
        super().__init__(message, setting=setting)
        self.tokens_in = tokens_in
        self.tokens_out = tokens_out


class JudgeConfigError(JudgeError):
    """No judge model, or neither an API key nor a base URL: nothing was sent."""


class JudgeUnavailable(JudgeError):
    """The server could not be reached, refused, or kept failing after bounded retries."""


class JudgeInvalidReply(JudgeError):
    """The model's reply was still not a valid verdict after bounded re-asks."""
