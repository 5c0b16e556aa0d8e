"""Keep secrets and server addresses out of reports.

Reports are made to be shared (mailed to students, put on a course site), so
nothing in them may say where the judge runs or with which key. What examiner
itself wrote about a grade (notes such as "judge_failed: cannot reach the judge
server at http://…") and about a run is passed through `redact`; the literal
key and base URL of the current configuration are removed from every text,
student answers included, by `scrub`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

__all__ = ["SERVER", "redact", "scrub", "secrets_in_environment"]

SERVER = "[server]"
SECRET = "[secret]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Any URL: the judge's base URL, a proxy, an endpoint quoted in an error.
    (re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>)\]]+"), SERVER),
    # host:port without a scheme (an IPv4 address, localhost or a dotted name).
    (re.compile(r"\b(?:\d{1,3}(?:\.\d{1,3}){3}|localhost)(?::\d{1,5})?\b"), SERVER),
    (re.compile(r"\[[0-9a-fA-F:]*:[0-9a-fA-F:]+\](?::\d{1,5})?"), SERVER),  # [::1]:8080
    # api.example.com:443 (a name with a letter in it, so that "1.5:10" is left alone)
    (re.compile(r"\b(?=[\w.-]*[A-Za-z])[\w-]+(?:\.[\w-]+)+:\d{2,5}\b"), SERVER),
    # API keys: OpenAI-style `sk-…`, bearer tokens.
    (re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"), SECRET),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"), SECRET),
)

_ENV_SECRETS = ("OPENAI_API_KEY", "OPENAI_BASE_URL")


def secrets_in_environment() -> list[str]:
    """The judge's key and base URL configured now, longest first.

    The command line has read `.env` into the environment by the time a
    report is made, so the environment is the whole configuration.
    """
    found = {os.environ.get(name, "") for name in _ENV_SECRETS}
    return sorted((s.strip() for s in found if len(s.strip()) >= 4), key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove the literal secrets from any text (student answers included)."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, SERVER if "://" in secret else SECRET)
    return text


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Text examiner wrote (notes, run details) without addresses, keys or secrets."""
    text = scrub(text, secrets)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
