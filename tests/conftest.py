"""Shared fixtures: the real packaged model, loaded once; every test in its own directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from examiner.config import JudgeSettings

from .openai_server import ScriptedOpenAI

ROOT = Path(__file__).resolve().parents[1]
CNN_RUBRIC = ROOT / "rubrics" / "cnn-lesson3.yaml"
EXAMPLE_CLASS = ROOT / "examples" / "class-submissions.csv"
SHARED = ROOT.parent / "shared"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

# The judge tests' API key: distinctive, so that a test can prove it leaks nowhere.
JUDGE_KEY = "sk-test-judge-7f3c9a1e5d"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in its own empty directory with its own examiner home and no keys."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EXAMINER_HOME", str(tmp_path / "home"))
    for var in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "EXAMINER_JUDGE_MODEL",
        "EXAMINER_EMBEDDING_MODEL",
    ):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    from examiner.embedder import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def cnn_rubric():  # type: ignore[no-untyped-def]
    from examiner.rubric import load_rubric

    return load_rubric(CNN_RUBRIC)


@pytest.fixture(scope="session")
def grader(embedder, cnn_rubric):  # type: ignore[no-untyped-def]
    from examiner.pipeline import Grader
    from examiner.scorers import EmbeddingScorer

    return Grader(cnn_rubric, scorer=EmbeddingScorer(embedder))


@pytest.fixture(scope="session")
def lexical_grader(cnn_rubric):  # type: ignore[no-untyped-def]
    from examiner.pipeline import Grader

    return Grader(cnn_rubric, scorer="lexical")


@pytest.fixture
def server() -> Iterator[ScriptedOpenAI]:
    """The scripted OpenAI-compatible server on a free local port, for one test."""
    with ScriptedOpenAI() as srv:
        yield srv


def scripted_judge(server: ScriptedOpenAI, **changes: Any) -> JudgeSettings:
    """Judge settings aimed at the scripted server, with `changes` applied.

    A short timeout and one retry and re-ask: tests that script failures must
    fail fast, and still see a retry happen.
    """
    base = JudgeSettings(
        model="scripted-judge",
        base_url=server.base_url,
        api_key=JUDGE_KEY,
        mode="always",
        timeout=0.5,
        max_retries=1,
        max_reasks=1,
    )
    return replace(base, **changes)
