"""The judge's side of `examiner grade`: dry runs, its cost, and runs waiting for a batch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ._app import err, escape, out
from .options import read_answer

_PANEL = "Judge batch"
JudgeBatchOpt = Annotated[
    bool,
    typer.Option(
        "--judge-batch",
        help="Send the judge's requests as one OpenAI Batch API job (half the price, "
        "answered within 24 h); run the same command again to collect the verdicts.",
        rich_help_panel=_PANEL,
    ),
]
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait", help="Poll until the batch is done, then collect it.", rich_help_panel=_PANEL
    ),
]
PollOpt = Annotated[
    float, typer.Option(help="Seconds between polls with --wait.", rich_help_panel=_PANEL)
]
BatchRequestsOpt = Annotated[
    Path | None,
    typer.Option(
        help="Write the batch's requests to this JSONL instead of sending them, for an "
        "offline batch runner (vLLM's run_batch).",
        rich_help_panel=_PANEL,
    ),
]
BatchResultsOpt = Annotated[
    Path | None,
    typer.Option(
        help="Collect the verdicts from a batch runner's output JSONL.", rich_help_panel=_PANEL
    ),
]

__all__ = [
    "BatchRequestsOpt",
    "BatchResultsOpt",
    "JudgeBatchOpt",
    "PollOpt",
    "WaitOpt",
    "check_batch_options",
    "dry_run_batch",
    "dry_run_live",
    "polled",
    "report_waiting",
    "usage_line",
]

# vLLM's offline batch runner reads and writes the Batch API's JSONL files.
VLLM_COMMAND = (
    "python -m vllm.entrypoints.openai.run_batch -i {requests} -o {results} --model {model}"
)


def check_batch_options(judge_batch: bool, *, file: bool, poll: float) -> bool:
    """Whether the run goes through a batch; a clear error where the options cannot."""
    if judge_batch and not file:
        raise typer.BadParameter(
            "a judge batch grades a SUBMISSIONS file into the database (not --card, not --no-db)",
            param_hint="--judge-batch",
        )
    if poll <= 0:
        raise typer.BadParameter("the poll interval must be positive", param_hint="--poll")
    return judge_batch


def polled(state: Any) -> None:
    """One line per poll under --wait."""
    done = state.completed + state.failed
    err.print(f"batch {escape(state.batch_id)}: {state.status}, {done}/{state.total} answered")


def report_waiting(summary: Any, db: Path, batch: Any) -> None:
    """A run that waits for its batch: what is stored, what waits, and what to do next."""
    record = summary.batch
    out.print(f"Run {summary.run_id} in {escape(str(db))}: waiting for the judge's batch")
    out.print(f"  graded now (not sent to the judge): {summary.graded}")
    out.print(f"  answers waiting for the judge: {summary.waiting} ({record.requests} requests)")
    if record.state == "written":
        requests = Path(record.input_file_id)
        results = requests.with_name(requests.stem + "-results.jsonl")
        command = VLLM_COMMAND.format(
            requests=requests, results=results, model=batch.settings.model
        )
        out.print(f"  requests written to {escape(str(requests))}, nothing sent")
        out.print("Run them through a batch runner, e.g. vLLM's on a GPU machine:")
        out.print(f"  {escape(command)}")
        out.print("then collect: the same command with --batch-results " + escape(str(results)))
        return
    out.print(f"  {escape(record.describe())}")
    out.print(
        "Run the same command again to collect the verdicts (the Batch API answers within "
        "24 h), or add --wait to wait here."
    )


def dry_run_batch(grader: Any, submissions: Path, requests_file: Path | None) -> None:
    """What the batch would hold: requests and estimated tokens; sends and stores nothing."""
    from ..formats.submissions import iter_submissions
    from ..judge.batch_api import request_line
    from ..judge.prompt import estimate_tokens
    from ..store.pending import PendingAnswer

    with grader.batch_judge(offline=True) as batch, err.status("estimating…"):
        requests: dict[str, dict[str, Any]] = {}
        answers = 0
        for staged in grader.first_stage(iter_submissions(submissions), source=str(submissions)):
            if not isinstance(staged, tuple):
                continue
            answers += 1
            taken = batch.take(*staged)
            if isinstance(taken, PendingAnswer):
                requests.setdefault(taken.custom_id, taken.request)
        routed, cached = batch.usage.routed, batch.usage.cache_hits
    tokens_in = sum(estimate_tokens(body["messages"]) for body in requests.values())
    tokens_out = sum(int(body["max_tokens"]) for body in requests.values())
    out.print("Judge batch dry run (nothing sent, nothing stored)")
    out.print(f"  answers: {answers}; routed to the judge: {routed}; already cached: {cached}")
    out.print(f"  requests in the batch: {len(requests)}")
    out.print(f"  estimated tokens in: {tokens_in:,}; at most {tokens_out:,} out")
    if requests:
        first = request_line(*next(iter(requests.items())))
        out.print("The first request (each line of the batch file is one like it):")
        out.print(escape(json.dumps(first, ensure_ascii=False, indent=2)))
    if requests_file is not None:
        requests_file.parent.mkdir(parents=True, exist_ok=True)
        with requests_file.open("w", encoding="utf-8") as f:
            for custom_id, body in requests.items():
                f.write(json.dumps(request_line(custom_id, body), ensure_ascii=False) + "\n")
        out.print(f"wrote {len(requests)} requests to {escape(str(requests_file))}")


def dry_run_live(
    grader: Any, submissions: Path | None, card: str | None, answer: str | None
) -> None:
    from rich.table import Table

    from ..formats.submissions import iter_submissions
    from ..models import Submission

    if grader.judge_settings is None:
        out.print(
            "The judge is off (--judge off, or no judge model configured): nothing would be sent."
        )
        return
    if card is not None:
        found = grader.card(card)
        items: Any = [Submission(student_id="me", card=found.id, answer=read_answer(answer))]
        source = "<answer>"
    else:
        assert submissions is not None
        items, source = iter_submissions(submissions), str(submissions)
    with err.status("estimating…"):
        plan = grader.plan_judge(items, source=source)
    table = Table(title="Judge dry run (nothing sent)", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("answers", str(plan.answers))
    table.add_row(f"routed to the judge ({grader.judge_settings.mode})", str(plan.routed))
    table.add_row("  already in the cache", str(plan.cached))
    table.add_row("  calls to make", str(plan.calls))
    table.add_row("estimated tokens in", f"{plan.tokens_in:,}")
    table.add_row("estimated tokens out", f"{plan.tokens_out:,}")
    out.print(table)
    out.print("Estimates: about 4 characters a token; re-asks and retries would add to them.")
    if plan.problem:
        out.print(f"[yellow]note:[/] {escape(plan.problem)}")


def usage_line(model: str | None, usage: Any) -> str:
    """One line of judge cost: answers, calls, cache hits, failures, tokens."""
    failed = f", {usage.failed} failed (embedding grade kept)" if usage.failed else ""
    return (
        f"judge {escape(model or '?')}: {usage.routed} answers sent, {usage.judged} judged "
        f"({usage.cache_hits} from the cache){failed}; {usage.calls} calls, "
        f"tokens {usage.tokens_in:,} in / {usage.tokens_out:,} out"
    )
