"""A class run through the judge into the store, with a server that pushes back (issue 5)."""

from __future__ import annotations

from pathlib import Path

from examiner.batch import run_batch
from examiner.config import JudgeSettings
from examiner.pipeline import Grader
from examiner.rubric import load_rubric
from examiner.store import Store, latest_grades

from .conftest import CNN_RUBRIC
from .openai_server import ScriptedOpenAI, Status

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
