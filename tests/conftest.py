"""Shared fixtures: the real packaged model, loaded once; every test in its own directory."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from examiner.config import JudgeSettings
from tests.openai_server import ScriptedOpenAI

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


# The session fixtures that load the packaged model: a test using one is a `model` test.
MODEL_FIXTURES = frozenset({"embedder", "grader", "checker"})
MODEL_GUARD = "this test loads the model: mark it @pytest.mark.model"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `model` every test that asks for the real embedder, so `-m "not model"` is fast."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


def could_load(target: str) -> bool:
    """Whether loading `target` might find a model: all but a path that does not exist.

    A test that names a missing path wants the lexical fallback, which stays
    as it is: the real loader fails on it, with the real error.
    """
    looks_like_path = target.startswith(("/", "./", "../", "~"))
    return not looks_like_path or Path(target).expanduser().exists()


def _loads(folder: Path) -> bool:
    """Whether an ONNX model folder passes its checks (so loading it would succeed)."""
    from examiner.errors import ModelLoadError
    from examiner.scoring.onnx_embedder import read_manifest

    try:
        read_manifest(folder)
    except ModelLoadError:
        return False
    return True


@pytest.fixture(autouse=True)
def model_guard(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[str]]:
    """A test without the `model` marker that loads a model fails, loudly.

    The loader raises an AssertionError (not the ModelLoadError a fallback
    catches), and the test also fails at teardown in case the error was
    swallowed on the way (a CLI exit code, a background thread). The fixture's
    value is the list of models the test tried to load.
    """
    if request.node.get_closest_marker("model") is not None:
        yield []
        return
    from examiner.scoring.checker import Checker
    from examiner.scoring.onnx_embedder import OnnxEmbedder
    from examiner.scoring.st_embedder import SentenceTransformerEmbedder

    attempts: list[str] = []
    load_st, load_onnx = SentenceTransformerEmbedder.load, OnnxEmbedder.load
    load_checker = Checker.load

    def guarded_st(self: SentenceTransformerEmbedder) -> None:
        blocked = sys.modules.get("sentence_transformers", sys) is None  # a test hid it
        if self._model is None and not blocked and could_load(self._target):
            attempts.append(self.name)
            raise AssertionError(f"{MODEL_GUARD} (it loads {self.name!r})")
        load_st(self)

    def guarded_onnx(self: OnnxEmbedder) -> None:
        if self._session is None and _loads(self.folder):
            attempts.append(self.name)
            raise AssertionError(f"{MODEL_GUARD} (it loads {self.name!r} through ONNX Runtime)")
        load_onnx(self)

    def guarded_checker(self: Checker) -> None:
        if self._session is None and _loads(self.folder):
            attempts.append(self.name)
            raise AssertionError(f"{MODEL_GUARD} (it loads the answer checker)")
        load_checker(self)

    monkeypatch.setattr(SentenceTransformerEmbedder, "load", guarded_st)
    monkeypatch.setattr(Checker, "load", guarded_checker)
    monkeypatch.setattr(OnnxEmbedder, "load", guarded_onnx)
    yield attempts
    if attempts:
        pytest.fail(f"{MODEL_GUARD} (it loaded {', '.join(sorted(set(attempts)))})")


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    from examiner.scoring.embedder import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def cnn_rubric():  # type: ignore[no-untyped-def]
    from examiner.rubric import load_rubric

    return load_rubric(CNN_RUBRIC)


@pytest.fixture(scope="session")
def grader(embedder, cnn_rubric):  # type: ignore[no-untyped-def]
    from examiner.scoring import EmbeddingScorer
    from examiner.scoring.checker import load_checker
    from examiner.scoring.grader import Grader

    return Grader(cnn_rubric, scorer=EmbeddingScorer(embedder, checker=load_checker()))


@pytest.fixture(scope="session")
def lexical_grader(cnn_rubric):  # type: ignore[no-untyped-def]
    from examiner.scoring.grader import Grader

    return Grader(cnn_rubric, scorer="lexical")


# Files a person may want to look at after a run (the browser tests' screenshots).
ARTIFACTS_ENV = "EXAMINER_TEST_ARTIFACTS"
_ARTIFACTS = pytest.StashKey[Path]()


@pytest.fixture(scope="session")
def artifacts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$EXAMINER_TEST_ARTIFACTS if set, else a directory under pytest's temporary paths.

    Never in the repository; the summary at the end of the run says where it is.
    """
    chosen = os.environ.get(ARTIFACTS_ENV)
    if chosen:
        path = request.config.invocation_params.dir / Path(chosen).expanduser()
        path.mkdir(parents=True, exist_ok=True)
    else:
        path = tmp_path_factory.mktemp("artifacts", numbered=False)
    request.config.stash[_ARTIFACTS] = path
    return path


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    path = config.stash.get(_ARTIFACTS, None)
    if path is not None:
        terminalreporter.write_line(f"test artifacts (screenshots): {path}")


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
