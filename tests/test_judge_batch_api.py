"""`--judge-batch`: the judge through the OpenAI Batch API, against a loopback Batch API.

The fake (`tests/batch_server.py`) speaks `/v1/files` and `/v1/batches` to
the real `openai` client: upload, create, poll, the output and error files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from examiner.batch import run_batch
from examiner.cli import app
from examiner.config import JudgeSettings
from examiner.judge.deferred import BatchJudge
from examiner.rubric import load_rubric
from examiner.scoring.grader import Grader
from examiner.store import Store, latest_grades
from examiner.store.pending import open_batches, pending_count
from tests.batch_server import Reply, ScriptedBatchAPI, Status
from tests.conftest import CNN_RUBRIC
from tests.openai_server import _completion, _smart_reply

SECRET = "sk-test-batch-4d1f7a9c2e"
runner = CliRunner()

ANSWERS = [
    ("same-conv", "The output has the same size as the input."),
    ("valid-conv", "The output is smaller than the input because the kernel stays inside."),
    ("ten-kernels", "Ten kernels give ten feature maps, each detecting its own feature."),
    ("receptive-field", "The receptive field is the region of the input a neuron sees."),
]


def write_class(path: Path, students: int = 2) -> Path:
    rows = ["student_id,card,answer"]
    for s in range(students):
        rows += [f's{s},{card},"{answer} (student {s})"' for card, answer in ANSWERS]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def run(*args: object):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> ScriptedBatchAPI:  # type: ignore[misc]
    """The fake Batch API, configured the way a user would: environment variables."""
    with ScriptedBatchAPI(polls_to_finish=3) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        monkeypatch.setenv("EXAMINER_JUDGE_MODEL", "batch-judge")
        yield fake


def grade(subs: Path, *extra: object):  # type: ignore[no-untyped-def]
    return run("grade", CNN_RUBRIC, subs, "--scorer", "lexical", "--judge", "always",
               "--judge-batch", "--db", "x.db", *extra)  # fmt: skip


def stored(db: str = "x.db") -> dict[tuple[str, str], object]:
    with Store.open(db) as store:
        (record,) = store.runs()
        return {(g.student_id, g.card_id): g for g in latest_grades(store, record.id)}


def request_ids(api: ScriptedBatchAPI) -> list[str]:
    (created,) = api.created_batches
    lines = api.file_bytes(created["input_file_id"]).decode().splitlines()
    return [json.loads(line)["custom_id"] for line in lines]


def test_submit_then_collect_grades_every_answer_as_a_live_verdict(
    api: ScriptedBatchAPI, tmp_path: Path
) -> None:
    subs = write_class(tmp_path / "class.csv")
    first = grade(subs)
    assert first.exit_code == 0, first.output
    assert "waiting for the judge's batch" in first.output
    assert "8 requests" in first.output
    (created,) = api.created_batches
    assert created["endpoint"] == "/v1/chat/completions" and created["completion_window"] == "24h"
    body = json.loads(api.file_bytes(created["input_file_id"]).decode().splitlines()[0])["body"]
    assert body["model"] == "batch-judge"
    assert body["response_format"]["type"] == "json_schema"
    assert stored() == {}  # nothing final yet: every answer waits for its verdict

    listing = run("runs", "--db", "x.db")
    assert "waiting" in listing.output and "batch_" in listing.output

    second = grade(subs)  # the batch is not done yet: it says so, and submits nothing
    assert second.exit_code == 0, second.output
    assert "waiting" in second.output and len(api.created_batches) == 1

    third = grade(subs)
    assert third.exit_code == 0, third.output
    grades = stored()
    assert len(grades) == 8
    for g in grades.values():
        assert g.scorer == "judge"  # type: ignore[attr-defined]
        assert g.judge is not None and g.judge.model == "batch-judge"  # type: ignore[attr-defined]
        assert "judge_failed" not in g.flags  # type: ignore[attr-defined]
        assert any(k.evidence for k in g.key_points)  # type: ignore[attr-defined]
    assert len(api.created_batches) == 1
    with Store.open("x.db") as store:
        assert open_batches(store) == {}
        assert store.runs()[0].status == "finished"
    again = grade(subs)
    assert again.exit_code == 0 and "already complete" in again.output
    assert len(api.created_batches) == 1 and "no API key" not in again.output
    assert SECRET not in first.output + third.output


def test_a_kill_after_the_batch_is_created_never_submits_it_twice(
    api: ScriptedBatchAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subs = write_class(tmp_path / "class.csv")
    rubric = load_rubric(CNN_RUBRIC)
    settings = JudgeSettings(
        model="batch-judge", base_url=api.base_url, api_key=SECRET, mode="always"
    )
    calls = {"n": 0}
    real = BatchJudge._record

    def killed_before_storing_the_id(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt  # the batch exists; its id never reached the store
        return real(self, *args, **kwargs)

    monkeypatch.setattr(BatchJudge, "_record", killed_before_storing_the_id)
    with Store.open(tmp_path / "x.db") as store:
        with (
            Grader(rubric, scorer="lexical", judge=settings) as grader,
            grader.batch_judge() as batch,
            pytest.raises(KeyboardInterrupt),
        ):
            run_batch(store, grader, CNN_RUBRIC, subs, judge_batch=batch)
        assert len(api.created_batches) == 1
        assert store.runs()[0].status == "interrupted"
        assert pending_count(store, store.runs()[0].id) == 8
        with (
            Grader(rubric, scorer="lexical", judge=settings) as grader,
            grader.batch_judge(wait=0.01) as batch,
        ):
            summary = run_batch(store, grader, CNN_RUBRIC, subs, judge_batch=batch)
        assert summary.status == "finished"
        assert len(api.created_batches) == 1  # found again by its name, not sent again
        assert summary.stats.answers == 8 and summary.stats.scorers == {"judge": 8}


def test_a_kill_during_the_first_pass_resumes_into_one_batch(
    api: ScriptedBatchAPI, tmp_path: Path
) -> None:
    subs = write_class(tmp_path / "class.csv", students=3)
    rubric = load_rubric(CNN_RUBRIC)
    settings = JudgeSettings(
        model="batch-judge", base_url=api.base_url, api_key=SECRET, mode="always"
    )
    seen = {"n": 0}

    def stop_after_five(k: int) -> None:
        seen["n"] += k
        if seen["n"] >= 5:
            raise KeyboardInterrupt

    with Store.open(tmp_path / "x.db") as store:
        with (
            Grader(rubric, scorer="lexical", judge=settings) as grader,
            grader.batch_judge() as batch,
            pytest.raises(KeyboardInterrupt),
        ):
            run_batch(store, grader, CNN_RUBRIC, subs, judge_batch=batch, commit_every=1,
                      on_progress=stop_after_five)  # fmt: skip
        assert api.created_batches == []
        held = pending_count(store, store.runs()[0].id)
        assert 0 < held < 12
        with (
            Grader(rubric, scorer="lexical", judge=settings) as grader,
            grader.batch_judge(wait=0.01) as batch,
        ):
            summary = run_batch(store, grader, CNN_RUBRIC, subs, judge_batch=batch)
        (created,) = api.created_batches
        assert summary.status == "finished" and summary.stats.answers == 12
        lines = api.file_bytes(created["input_file_id"]).decode().splitlines()
        assert len(lines) == 12  # the answers held before the kill, and the rest, once each


def test_failed_and_invalid_lines_fall_back_to_the_embedding_grade_flagged(
    api: ScriptedBatchAPI, tmp_path: Path
) -> None:
    subs = write_class(tmp_path / "class.csv")
    assert grade(subs).exit_code == 0
    ids = request_ids(api)
    api.script(ids[0], Status(500))
    api.script(ids[1], Reply("this is not a verdict"))
    api.script(ids[2], Reply('{"key_points": [', finish_reason="length"))
    result = grade(subs, "--wait", "--poll", "0.01")
    assert result.exit_code == 0, result.output
    grades = list(stored().values())
    failed = [g for g in grades if "judge_failed" in g.flags]  # type: ignore[attr-defined]
    assert len(failed) == 3 and all(g.scorer == "lexical" for g in failed)  # type: ignore[attr-defined]
    notes = " ".join(n for g in failed for n in g.notes)  # type: ignore[attr-defined]
    assert "HTTP 500" in notes
    assert "not a valid verdict" in notes
    assert "cut at the token budget" in notes
    assert sum(g.scorer == "judge" for g in grades) == 5  # type: ignore[attr-defined]
    assert "3 failed" in result.output


def test_an_expired_batch_keeps_what_it_answered(api: ScriptedBatchAPI, tmp_path: Path) -> None:
    subs = write_class(tmp_path / "class.csv")
    api.expire_after(3)
    result = grade(subs, "--wait", "--poll", "0.01")
    assert result.exit_code == 0, result.output
    grades = list(stored().values())
    assert len(grades) == 8
    assert sum(g.scorer == "judge" for g in grades) == 3  # type: ignore[attr-defined]
    expired = [g for g in grades if "judge_failed" in g.flags]  # type: ignore[attr-defined]
    assert len(expired) == 5
    assert all("batch_expired" in " ".join(g.notes) for g in expired)  # type: ignore[attr-defined]


def test_a_cancelled_batch_is_collected_as_fallbacks(api: ScriptedBatchAPI, tmp_path: Path) -> None:
    import openai

    subs = write_class(tmp_path / "class.csv")
    assert grade(subs).exit_code == 0
    (batch_id,) = [b for b in open_batches_of("x.db")]
    openai.OpenAI(base_url=api.base_url, api_key=SECRET).batches.cancel(batch_id)
    result = grade(subs, "--wait", "--poll", "0.01")
    assert result.exit_code == 0, result.output
    grades = list(stored().values())
    assert len(grades) == 8 and all("judge_failed" in g.flags for g in grades)  # type: ignore[attr-defined]
    assert "batch_cancelled" in " ".join(grades[0].notes)  # type: ignore[attr-defined]


def open_batches_of(db: str) -> list[str]:
    with Store.open(db) as store:
        return [b.batch_id for b in open_batches(store).values() if b.batch_id]


def test_a_live_run_of_a_waiting_run_is_refused_with_the_fix(
    api: ScriptedBatchAPI, tmp_path: Path
) -> None:
    subs = write_class(tmp_path / "class.csv")
    assert grade(subs).exit_code == 0
    live = run("grade", CNN_RUBRIC, subs, "--scorer", "lexical", "--judge", "always",
               "--db", "x.db")  # fmt: skip
    assert live.exit_code == 1
    assert "waiting for its judge batch" in live.output and "--judge-batch" in live.output


def test_offline_requests_and_results_files_for_a_batch_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXAMINER_JUDGE_MODEL", "Qwen/Qwen2.5-7B-Instruct")  # no API at all
    subs = write_class(tmp_path / "class.csv")
    requests = tmp_path / "requests.jsonl"
    first = grade(subs, "--batch-requests", requests)
    assert first.exit_code == 0, first.output
    assert "vllm.entrypoints.openai.run_batch" in first.output
    lines = [json.loads(line) for line in requests.read_text().splitlines()]
    assert len(lines) == 8 and {line["url"] for line in lines} == {"/v1/chat/completions"}
    # What vLLM's batch runner writes: one output line per request, same shape as OpenAI's.
    results = tmp_path / "results.jsonl"
    with results.open("w") as f:
        for i, line in enumerate(lines[:-1]):
            body = _completion(line["body"], _smart_reply(line["body"]))
            response = {"status_code": 200, "request_id": f"r{i}", "body": body}
            out = {"id": f"b{i}", "custom_id": line["custom_id"], "response": response}
            f.write(json.dumps({**out, "error": None}) + "\n")
    second = grade(subs, "--batch-results", results)
    assert second.exit_code == 0, second.output
    grades = list(stored().values())
    assert sum(g.scorer == "judge" for g in grades) == 7  # type: ignore[attr-defined]
    (missing,) = [g for g in grades if "judge_failed" in g.flags]  # type: ignore[attr-defined]
    assert f"no result in {results}" in " ".join(missing.notes)  # type: ignore[attr-defined]


def test_dry_run_shows_the_requests_and_tokens_and_sends_nothing(
    api: ScriptedBatchAPI, tmp_path: Path
) -> None:
    subs = write_class(tmp_path / "class.csv")
    result = grade(subs, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "requests in the batch: 8" in result.output
    assert "estimated tokens in" in result.output and '"custom_id"' in result.output
    assert api.requests == [] and not Path("x.db").exists()


def test_judge_batch_needs_a_file_and_the_database(api: ScriptedBatchAPI, tmp_path: Path) -> None:
    subs = write_class(tmp_path / "class.csv")
    one = run("grade", CNN_RUBRIC, "--card", "same-conv", "--answer", "x", "--judge-batch")
    assert one.exit_code == 2 and "SUBMISSIONS file" in one.output
    no_db = run("grade", CNN_RUBRIC, subs, "--judge-batch", "--no-db")
    assert no_db.exit_code == 2
