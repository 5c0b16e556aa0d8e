"""The package's boundaries: what the core may import, name and touch.

The flow is one way (formats → rubric → scoring → judge → store → reports /
practice → cli): only the CLI draws on a terminal or knows its flags, and a
library call leaves the caller's process as it found it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import examiner
from examiner.config import judge_settings
from examiner.errors import ConfigError
from tests.conftest import ROOT

PACKAGE = ROOT / "examiner"
CORE = sorted(p for p in PACKAGE.rglob("*.py") if "cli" not in p.relative_to(PACKAGE).parts)


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_cli_imports_typer_or_rich(path: Path) -> None:
    assert not _imported(path) & {"typer", "rich", "click"}


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_no_module_is_over_400_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400


@pytest.mark.parametrize("name", examiner.__all__)
def test_every_public_name_imports_from_the_package(name: str) -> None:
    assert getattr(examiner, name) is not None


def test_the_practice_loop_runs_without_a_terminal_library() -> None:
    code = "import sys, examiner.practice.session; print('rich' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_core_errors_name_the_setting_and_the_cli_names_the_flag() -> None:
    with pytest.raises(ConfigError) as caught:
        judge_settings(model="m", concurrency=0)
    assert caught.value.setting == "concurrency"
    assert "--" not in str(caught.value)

    from typer.testing import CliRunner

    from examiner.cli import app

    result = CliRunner().invoke(
        app,
        [
            *("grade", str(ROOT / "rubrics" / "cnn-lesson3.yaml"), "--card", "x"),
            *("--answer", "y", "--judge-model", "m", "--concurrency", "0"),
        ],
    )
    assert result.exit_code == 1
    assert "concurrency must be at least 1, not 0 (--concurrency)" in result.output


@pytest.mark.model
def test_loading_the_model_leaves_the_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline loading is asked of the loader, not set in the caller's environment."""
    from examiner.scoring.embedder import load_embedder

    ours = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")
    for var in ours:
        monkeypatch.delenv(var, raising=False)
    load_embedder().encode(["a sentence"])
    assert [var for var in ours if var in os.environ] == []
