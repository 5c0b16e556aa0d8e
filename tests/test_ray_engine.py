"""`--engine ray`: the embedding stage on a local Ray instance (2 CPUs, as CI has).

The grades must be those of one process, to the byte, and a worker killed
mid-run must neither lose nor duplicate one.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from examiner.batch import run_batch
from examiner.cli import app
from examiner.errors import ConfigError
from examiner.models import Rubric
from examiner.ray_engine import RayEngine, require_ray
from examiner.rubric import load_rubric
from examiner.scoring.grader import Grader
from examiner.store import Store, latest_grades
from tests.conftest import CNN_RUBRIC
from tests.test_batch import class_rows, count, write_csv


@pytest.fixture(scope="module")
def rubric() -> Rubric:
    return load_rubric(CNN_RUBRIC)


@pytest.fixture(scope="module")
def ray_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One local Ray instance for the module: starting one takes seconds."""
    import ray

    # The actors' examiner home (rubric vector cache) is the module's own.
    os.environ["EXAMINER_HOME"] = str(tmp_path_factory.mktemp("ray-home"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def scores(db: Path, run_id: int) -> dict[tuple[str, str], str]:
    """Every stored grade, whole, as JSON text."""
    with Store.open(db) as store:
        return {
            (g.student_id, g.card_id): g.model_dump_json() for g in latest_grades(store, run_id)
        }


def grade(db: Path, rubric: Rubric, subs: Path, **engine: Any) -> Any:
    grader = Grader(rubric, batch_size=64)
    spread = RayEngine(grader, **engine) if engine else None
    with Store.open(db) as store:
        return run_batch(store, grader, CNN_RUBRIC, subs, engine=spread)


@pytest.mark.model
def test_ray_grades_a_class_exactly_as_one_process(
    tmp_path: Path, rubric: Rubric, ray_local: None
) -> None:
    rows = class_rows(rubric, 134)  # 2,010 answers
    subs = write_csv(tmp_path / "class.csv", rows, bad_after=700)
    local = grade(tmp_path / "local.db", rubric, subs)
    blocks: list[int] = []
    spread = grade(
        tmp_path / "ray.db", rubric, subs, block=256, on_block=lambda pid, n, mib: blocks.append(n)
    )
    assert spread.graded == local.graded == len(rows)
    assert [p.line for p in spread.problems] == [p.line for p in local.problems] == [702]
    assert len(blocks) > 2, "the class went through Ray in blocks"
    expected = scores(tmp_path / "local.db", local.run_id)
    got = scores(tmp_path / "ray.db", spread.run_id)
    assert got.keys() == expected.keys()
    differing = [key for key in expected if got[key] != expected[key]]
    assert not differing, f"{len(differing)} grades differ, e.g. {differing[:3]}"


@pytest.mark.model
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(
    tmp_path: Path, rubric: Rubric, ray_local: None
) -> None:
    rows = class_rows(rubric, 40)  # 600 answers, in blocks of 64
    subs = write_csv(tmp_path / "class.csv", rows)
    killed: list[int] = []

    def kill_first_worker(pid: int, answers: int, mib: float) -> None:
        if not killed:  # the actor that sent the first block dies while others are graded
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    spread = grade(tmp_path / "ray.db", rubric, subs, block=64, on_block=kill_first_worker)
    assert killed, "a worker was killed"
    local = grade(tmp_path / "local.db", rubric, subs)
    assert spread.status == "finished"
    db = tmp_path / "ray.db"
    assert count(db, "SELECT COUNT(*) FROM grades") == len(rows)
    distinct = "SELECT COUNT(*) FROM (SELECT DISTINCT student_id, card_id FROM grades)"
    assert count(db, distinct) == len(rows)
    assert scores(db, spread.run_id) == scores(tmp_path / "local.db", local.run_id)


@pytest.mark.model
def test_an_interrupted_ray_run_resumes_where_it_stopped(
    tmp_path: Path, rubric: Rubric, ray_local: None
) -> None:
    rows = class_rows(rubric, 20)  # 300 answers
    subs = write_csv(tmp_path / "class.csv", rows)
    seen: list[int] = []

    def stop_after_two_blocks(pid: int, answers: int, mib: float) -> None:
        seen.append(answers)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grade(tmp_path / "ray.db", rubric, subs, block=64, on_block=stop_after_two_blocks)
    kept = count(tmp_path / "ray.db", "SELECT COUNT(*) FROM grades")
    assert 0 < kept < len(rows)
    resumed = grade(tmp_path / "ray.db", rubric, subs, block=64)
    assert resumed.status == "finished" and not resumed.new_run
    assert resumed.graded == len(rows) - kept
    assert count(tmp_path / "ray.db", "SELECT COUNT(*) FROM grades") == len(rows)


@pytest.mark.model
def test_grade_engine_ray_on_the_command_line(
    tmp_path: Path, rubric: Rubric, ray_local: None
) -> None:
    subs = write_csv(tmp_path / "class.csv", class_rows(rubric, 4))
    args = ["grade", str(CNN_RUBRIC), str(subs), "--db", str(tmp_path / "r.db")]
    result = CliRunner().invoke(app, [*args, "--engine", "ray", "--out", "ray.jsonl"])
    assert result.exit_code == 0, result.output
    assert re.search(r"graded now\s+60\b", result.output), result.output
    assert len(Path("ray.jsonl").read_text().splitlines()) == 60


def test_engine_options_are_checked_before_anything_runs(tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})  # the error box does not wrap the message
    one = ["grade", str(CNN_RUBRIC), "--card", "1", "--answer", "x", "--scorer", "lexical"]
    result = runner.invoke(app, [*one, "--engine", "ray"])
    assert result.exit_code == 2 and "not one --card answer" in result.output
    result = runner.invoke(app, [*one, "--engine", "spark"])
    assert result.exit_code == 2 and "use local or ray" in result.output
    result = runner.invoke(app, [*one, "--address", "auto"])
    assert result.exit_code == 2 and "only with --engine ray" in result.output


def test_without_ray_installed_the_error_says_which_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"pip install 'examiner\[ray\]'"):
        require_ray()
