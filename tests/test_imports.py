"""Starting examiner is cheap: the heavy libraries load only when a command needs them.

torch and sentence-transformers take seconds to import, the judge's client,
the plots and the templates most of a second more; `examiner --help` or a
typo in a command line must not wait for any of them. Each check runs in a
fresh interpreter, so that what this test session imported does not count.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, could_load

HEAVY = (
    "torch",
    "sentence_transformers",
    "transformers",
    "onnxruntime",
    "tokenizers",
    "openai",
    "matplotlib",
    "jinja2",
)

HELP = "from examiner.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass"


def python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=os.environ | {"HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def import_chains(importtime: str, heavy: tuple[str, ...]) -> list[str]:
    """'a -> b -> torch' for each heavy package in `python -X importtime` output.

    importtime lists each import after the imports it caused, indented one
    step deeper; read backwards, the indentation gives each import's parents.
    """
    stack: list[str] = []
    chains = []
    for line in reversed(importtime.splitlines()):
        if not line.startswith("import time:") or "|" not in line:
            continue
        field = line.rsplit("|", 1)[1]
        name = field.strip()
        if name == "imported package":  # the header
            continue
        depth = (len(field) - len(field.lstrip()) - 1) // 2
        stack[depth:] = [name]
        if name in heavy:
            chains.append(" -> ".join(stack))
    return chains


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import examiner", id="import examiner"),
        pytest.param("import examiner.cli", id="import examiner.cli"),
        pytest.param(HELP, id="examiner --help"),
    ],
)
def test_starting_loads_no_heavy_library(code: str) -> None:
    probe = f"{code}\nimport sys\nprint('loaded:', *(m for m in {HEAVY!r} if m in sys.modules))"
    run = python("-X", "importtime", "-c", probe)
    assert run.returncode == 0, run.stderr
    last = run.stdout.splitlines()[-1].split()
    assert last[0] == "loaded:", run.stdout
    loaded = last[1:]
    chains = "\n".join(import_chains(run.stderr, HEAVY))
    assert loaded == [], f"{code!r} imports {loaded}:\n{chains}"


def test_import_chains_reads_importtime_output() -> None:
    # As `python -X importtime` writes it: children first, one step deeper.
    output = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       100 |        100 |       torch\n"
        "import time:        10 |        110 |     examiner.scoring.embedder\n"
        "import time:         5 |          5 |     examiner.text\n"
        "import time:        20 |        135 |   examiner.scoring\n"
        "import time:        30 |        165 | examiner\n"
        "import time:        30 |         30 | json\n"
    )
    assert import_chains(output, HEAVY) == [
        "examiner -> examiner.scoring -> examiner.scoring.embedder -> torch"
    ]
    assert import_chains(output, ("json",)) == ["json"]


def test_examiner_help_exits_0() -> None:
    run = python("-m", "examiner", "--help")
    assert run.returncode == 0, run.stderr
    assert "Usage" in run.stdout
    assert "grade" in run.stdout


# --- the fast suite (`pytest -m "not model"`) cannot load the model without saying so ------


def test_an_unmarked_test_that_loads_the_model_fails(model_guard: list[str]) -> None:
    from examiner.scoring.onnx_embedder import OnnxEmbedder
    from examiner.scoring.st_embedder import SentenceTransformerEmbedder

    with pytest.raises(AssertionError, match=r"mark it @pytest\.mark\.model"):
        OnnxEmbedder().load()
    if importlib.util.find_spec("sentence_transformers") is not None:
        with pytest.raises(AssertionError, match=r"mark it @pytest\.mark\.model"):
            SentenceTransformerEmbedder().load()
    assert set(model_guard) == {"all-MiniLM-L6-v2"}  # and teardown would fail the test
    model_guard.clear()


@pytest.mark.parametrize(
    ("target", "guarded"),
    [
        ("all-MiniLM-L6-v2", True),  # a hub name: it may be cached
        (str(ROOT), True),  # a directory that exists
        ("/nonexistent/model", False),  # the fallback tests' model: the real loader fails
        ("./no/such/model", False),
    ],
)
def test_the_guard_lets_a_missing_model_fail_as_it_does(target: str, guarded: bool) -> None:
    assert could_load(target) is guarded
