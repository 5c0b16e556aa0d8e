"""A class run through the judge into the store, with a server that pushes back (issue 5)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from examiner.batch import run_batch
from examiner.cli import app
from examiner.config import JudgeSettings
from examiner.rubric import load_rubric
from examiner.scoring.grader import Grader
from examiner.store import Store, latest_grades
from tests.conftest import CNN_RUBRIC
from tests.openai_server import ScriptedOpenAI, Status

ANSWERS = [
    "The output has the same size as the input.",
    "The output is smaller than the input because the kernel stays inside.",
    "Ten kernels give ten feature maps, each detecting its own feature.",
    "The receptive field is the region of the input a neuron sees.",
]


def write_class(path: Path, students: int) -> Path:
    rows = ["student_id,card,answer"]
    cards = ["same-conv", "valid-conv", "ten-kernels", "receptive-field"]
    for s in range(students):
        for card, answer in zip(cards, ANSWERS, strict=True):
            rows.append(f's{s:02d},{card},"{answer} (student {s})"')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def judged_run(tmp_path: Path, name: str, server: ScriptedOpenAI, concurrency: int) -> dict:  # type: ignore[type-arg]
    settings = JudgeSettings(
        model="scripted-judge",
        base_url=server.base_url,
        api_key="sk-batch-test",
        mode="always",
        timeout=2.0,
        max_retries=4,
        concurrency=concurrency,
        cache=False,
    )
    rubric = load_rubric(CNN_RUBRIC)
    subs = write_class(tmp_path / "class.csv", students=6)
    with (
        Store.open(tmp_path / f"{name}.db") as store,
        Grader(rubric, scorer="lexical", judge=settings) as grader,
    ):
        summary = run_batch(store, grader, CNN_RUBRIC, subs, settings={"judge": "always"})
        assert summary.problem_count == 0
        return {(g.student_id, g.card_id): g for g in latest_grades(store, summary.run_id)}


def test_429s_under_concurrency_lose_nothing_and_change_nothing(tmp_path: Path) -> None:
    with ScriptedOpenAI() as calm:
        reference = judged_run(tmp_path, "calm", calm, concurrency=1)
    with ScriptedOpenAI() as busy:
        # The first eight requests, sent at once, are refused; each is retried after Retry-After.
        busy.script(*[Status(429, {"Retry-After": "0"}) for _ in range(8)])
        pushed = judged_run(tmp_path, "busy", busy, concurrency=8)
        assert len(busy.chat_requests) > len(reference)  # the refusals were really sent
    assert len(reference) == len(pushed) == 24
    for key, grade in reference.items():
        other = pushed[key]
        assert other.scorer == grade.scorer == "judge"
        assert other.score == grade.score
        assert [k.status for k in other.key_points] == [k.status for k in grade.key_points]
        assert "judge_failed" not in other.flags


# --- the run's identity: the judge's part comes from the grader ----------------------------


def judge(server: ScriptedOpenAI, model: str) -> JudgeSettings:
    return JudgeSettings(
        model=model, base_url=server.base_url, api_key="sk-batch-test", mode="always",
        timeout=2.0, cache=False,
    )  # fmt: skip


def test_a_library_run_resumes_for_the_same_judge_and_starts_anew_for_another(
    tmp_path: Path,
) -> None:
    rubric = load_rubric(CNN_RUBRIC)
    subs = write_class(tmp_path / "class.csv", students=3)

    def stop_after(n: int) -> Callable[[int], None]:
        done = [0]

        def progress(k: int) -> None:
            done[0] += k
            if done[0] >= n:
                raise KeyboardInterrupt

        return progress

    with ScriptedOpenAI() as server, Store.open(tmp_path / "x.db") as store:
        with (
            Grader(rubric, scorer="lexical", judge=judge(server, "judge-a")) as grader,
            pytest.raises(KeyboardInterrupt),
        ):
            run_batch(store, grader, CNN_RUBRIC, subs, commit_every=1, on_progress=stop_after(5))
        (first,) = store.runs()
        assert first.status == "interrupted"
        # No settings passed: the same judge is the same run, resumed where it stopped.
        with Grader(rubric, scorer="lexical", judge=judge(server, "judge-a")) as grader:
            resumed = run_batch(store, grader, CNN_RUBRIC, subs)
        assert (resumed.run_id, resumed.new_run, resumed.status) == (first.id, False, "finished")
        assert resumed.skipped >= 5 and resumed.skipped + resumed.graded == 12
        sent = len(server.chat_requests)
        with Grader(rubric, scorer="lexical", judge=judge(server, "judge-a")) as grader:
            again = run_batch(store, grader, CNN_RUBRIC, subs)
        assert (again.run_id, again.graded, again.skipped) == (first.id, 0, 12)
        assert len(server.chat_requests) == sent  # nothing asked twice
        # Another judge model decides grades differently: a new run, nothing reused.
        with Grader(rubric, scorer="lexical", judge=judge(server, "judge-b")) as grader:
            other = run_batch(store, grader, CNN_RUBRIC, subs)
        assert (other.new_run, other.graded, other.reused) == (True, 12, 0)
        assert other.run_id != first.id
        assert store.run(other.run_id).settings["grading"]["judge"]["model"] == "judge-b"
        # And so does no judge at all.
        no_judge = run_batch(store, Grader(rubric, scorer="lexical"), CNN_RUBRIC, subs)
        assert no_judge.new_run and no_judge.run_id not in (first.id, other.run_id)


def test_the_library_and_the_cli_make_the_same_run(tmp_path: Path) -> None:
    subs = write_class(tmp_path / "class.csv", students=2)
    db = tmp_path / "x.db"
    with ScriptedOpenAI() as server:
        result = CliRunner().invoke(
            app,
            [
                "grade", str(CNN_RUBRIC), str(subs), "--db", str(db), "--scorer", "lexical",
                "--judge", "always", "--judge-model", "judge-a", "--base-url", server.base_url,
                "--api-key", "sk-batch-test", "--no-cache",
            ],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        with (
            Store.open(db) as store,
            Grader(load_rubric(CNN_RUBRIC), scorer="lexical", judge=judge(server, "judge-a")) as g,
        ):
            summary = run_batch(store, g, CNN_RUBRIC, subs)
            assert (summary.run_id, summary.new_run, summary.graded) == (1, False, 0)
            assert summary.skipped == 8
