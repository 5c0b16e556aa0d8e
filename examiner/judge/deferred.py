"""The judge stage deferred to a batch: requests now, verdicts when the batch is done.

`BatchJudge` is what `run_batch` uses instead of the live `JudgeStage` under
`--judge-batch`. In a run's first pass, `take` decides per answer what the
live stage would: not routed, or a verdict already cached, gives the final
grade at once; otherwise the answer waits (a `PendingAnswer` with its
request). `submit` then sends the run's waiting requests as one batch, or
writes them to a file for an offline batch runner; `collect` turns the
results into grades exactly as live verdicts are turned (`judge_grade`:
quotes verified, examiner's score), and an answer whose request failed,
expired or did not validate keeps its embedding grade, flagged
`judge_failed` with the reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import JudgeSettings
from ..errors import JudgeConfigError, JudgeError
from ..models import Grade, Rubric, RubricCard, Submission
from ..store.pending import BatchRecord, PendingAnswer, record_batch
from .batch_api import BatchAPI, BatchState, LineResult, batch_token, read_results, request_body
from .batch_api import request_line as make_line
from .cache import VerdictCache
from .client import parse_reply
from .grading import DEFAULT_REVIEW_BELOW, failed_grade, judge_grade
from .prompt import PROMPT_VERSION, judge_messages
from .stage import ExamplesFor, JudgeUsage, routes, verdict_key
from .verdict import Verdict, card_problems, reply_budget, verdict_schema

if TYPE_CHECKING:
    from ..store.database import Store

__all__ = ["BatchJudge", "BatchOutcome"]


def _ignore(_: object) -> None:
    pass


@dataclass(frozen=True)
class BatchOutcome:
    """Where a run's batch stands after `submit` or `collect`."""

    record: BatchRecord
    grades: Sequence[Grade] = ()  # the waiting answers' final grades, once collected

    @property
    def collected(self) -> bool:
        return bool(self.grades) or self.record.collected


class BatchJudge:
    """The judge through the OpenAI Batch API (or a batch runner's files) for one run.

    `requests_file`: write the requests there instead of uploading them (for
    vLLM's batch runner); `results_file`: collect from that file instead of
    the API. `wait`: poll every this many seconds until the batch is done,
    calling `on_poll` with its state; None returns at once. `offline`: no
    API is needed (a dry run).
    """

    def __init__(
        self,
        settings: JudgeSettings,
        *,
        examples: ExamplesFor | None = None,
        review_below: float = DEFAULT_REVIEW_BELOW,
        requests_file: Path | None = None,
        results_file: Path | None = None,
        wait: float | None = None,
        on_poll: Callable[[BatchState], None] = _ignore,
        offline: bool = False,
    ) -> None:
        offline = offline or requests_file is not None or results_file is not None
        if not settings.model:
            raise JudgeConfigError("--judge-batch needs a judge model: set EXAMINER_JUDGE_MODEL")
        if not offline and settings.problem:
            raise JudgeConfigError(f"--judge-batch: {settings.problem}")
        self.settings = settings
        self.review_below = review_below
        self.usage = JudgeUsage()
        self._examples = examples
        self.requests_file = requests_file
        self._results_file = results_file
        self._wait = wait
        self._on_poll = on_poll
        self._cache = VerdictCache(settings.cache_file()) if settings.cache else None
        self._api: BatchAPI | None = None

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None
        if self._cache is not None:
            self._cache.close()

    def __enter__(self) -> BatchJudge:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def api(self) -> BatchAPI:
        if self._api is None:
            self._api = BatchAPI(self.settings)
        return self._api

    # -- the first pass ------------------------------------------------------------------

    def take(self, card: RubricCard, sub: Submission, first: Grade) -> Grade | PendingAnswer:
        """The final grade now (not routed, or cached), or the answer's request to wait."""
        if not routes(first, self.settings):
            return first
        shown = self._examples(card, sub.answer) if self._examples is not None else ()
        key = verdict_key(self.settings.model or "", card, sub.answer, shown)
        cached = self._cached(key, card)
        if cached is not None:
            self.usage.routed += 1
            self.usage.judged += 1
            self.usage.cache_hits += 1
            return self._grade(card, first, cached, cached=True)
        body = request_body(
            self.settings,
            judge_messages(card, sub.answer, first, shown),
            verdict_schema(card),
            name="verdict",
            max_tokens=reply_budget(card),
        )
        # The cache key names the request: identical answers to a card share one.
        return PendingAnswer(key, first, body)

    # -- submitting ------------------------------------------------------------------------

    def submit(
        self, store: Store, run_id: int, run_key: str, waiting: Sequence[PendingAnswer]
    ) -> BatchOutcome:
        """Send the waiting answers' requests as one batch (each distinct request once)."""
        lines = _lines(waiting)
        token = batch_token(run_key, (a.custom_id for a in waiting))
        if self.requests_file is not None:
            self._write_requests(lines)
            # The file stands for the uploaded one: `examiner runs` and a rerun name it.
            record = record_batch(
                store, run_id, token, state="written", requests=len(lines),
                input_file_id=str(self.requests_file),
            )  # fmt: skip
            return BatchOutcome(record)
        record = record_batch(store, run_id, token, state="preparing", requests=len(lines))
        state = self.api.submit(lines, token)
        return BatchOutcome(self._record(store, record, state))

    def _write_requests(self, lines: Sequence[dict[str, object]]) -> None:
        assert self.requests_file is not None
        path = self.requests_file
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with partial.open("w", encoding="utf-8") as f:
            for line in lines:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        partial.replace(path)  # all the requests or none: a killed write leaves no half file

    # -- collecting --------------------------------------------------------------------------

    def collect(
        self, store: Store, record: BatchRecord, rubric: Rubric, waiting: Sequence[PendingAnswer]
    ) -> BatchOutcome:
        """The waiting answers' final grades if the batch is done (else its state, stored)."""
        if self._results_file is not None:
            source = str(self._results_file)
            try:
                text = self._results_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise JudgeConfigError(f"cannot read {source}: {exc.strerror or exc}") from None
            results, why = read_results(text, source=source), f"no result in {source}"
            return BatchOutcome(record, self._grades(rubric, waiting, results, why))
        if record.state == "written":
            return BatchOutcome(record)  # for the batch runner: collect with its results file
        if record.batch_id is None:
            # Killed before the batch's id was stored: find it by its name, or create it.
            record = self._record(store, record, self.api.submit(_lines(waiting), record.token))
        assert record.batch_id is not None
        state = self._poll(record.batch_id)
        record = self._record(store, record, state)
        if not state.done:
            return BatchOutcome(record)
        results = self.api.results(state) if state.status != "failed" else {}
        why = _missing_reason(state)
        return BatchOutcome(record, self._grades(rubric, waiting, results, why))

    def _poll(self, batch_id: str) -> BatchState:
        state = self.api.state(batch_id)
        while not state.done and self._wait is not None:
            self._on_poll(state)
            time.sleep(self._wait)
            state = self.api.state(batch_id)
        return state

    def _record(self, store: Store, record: BatchRecord, state: BatchState) -> BatchRecord:
        return record_batch(
            store,
            record.run_id,
            record.token,
            state=state.status,
            requests=record.requests,
            batch_id=state.batch_id,
            input_file_id=state.input_file_id,
            output_file_id=state.output_file_id,
            error_file_id=state.error_file_id,
            counts=state.counts,
        )

    def _grades(
        self,
        rubric: Rubric,
        waiting: Sequence[PendingAnswer],
        results: dict[str, LineResult],
        missing: str,
    ) -> list[Grade]:
        grades: list[Grade] = []
        verdicts: dict[str, Verdict | JudgeError] = {}
        for answer in waiting:
            self.usage.routed += 1
            card = rubric.card(answer.grade.card_id)
            result = results.get(answer.custom_id)
            fresh = answer.custom_id not in verdicts
            if fresh:
                verdicts[answer.custom_id] = self._verdict(card, answer, result, missing)
            verdict = verdicts[answer.custom_id]
            spent_in = result.tokens_in if result and fresh else 0
            spent_out = result.tokens_out if result and fresh else 0
            if fresh and result is not None and result.content is not None:
                self.usage.calls += 1
            self.usage.tokens_in += spent_in
            self.usage.tokens_out += spent_out
            if isinstance(verdict, JudgeError):
                self.usage.failed += 1
                kind = type(verdict).__name__
                self.usage.failures[kind] = self.usage.failures.get(kind, 0) + 1
                grades.append(failed_grade(answer.grade, str(verdict), spent_in, spent_out))
                continue
            self.usage.judged += 1
            grades.append(
                self._grade(
                    card, answer.grade, verdict, cached=not fresh, spent=(spent_in, spent_out)
                )
            )
        return grades

    def _verdict(
        self, card: RubricCard, answer: PendingAnswer, result: LineResult | None, missing: str
    ) -> Verdict | JudgeError:
        if result is None:
            return JudgeError(missing)
        if result.content is None:
            return JudgeError(result.error or "no reply")
        if result.cut:
            return JudgeError(
                "the reply was cut at the token budget "
                f"({answer.request.get('max_tokens', '?')} tokens); a batch cannot ask again"
            )
        verdict, problems = parse_reply(result.content, Verdict, lambda v: card_problems(v, card))
        if verdict is None:
            return JudgeError(
                "the judge's reply was not a valid verdict (a batch cannot ask again): "
                + (problems[0] if problems else "no content")
            )
        if self._cache is not None:
            self._cache.put(
                answer.custom_id,
                model=self.settings.model or "",
                prompt_version=PROMPT_VERSION,
                card_id=card.id,
                verdict=verdict.model_dump_json(),
                tokens_in=result.tokens_in,
                tokens_out=result.tokens_out,
            )
        return verdict

    def _grade(
        self,
        card: RubricCard,
        first: Grade,
        verdict: Verdict,
        *,
        cached: bool,
        spent: tuple[int, int] = (0, 0),
    ) -> Grade:
        return judge_grade(
            card,
            first,
            verdict,
            self.settings,
            tokens_in=spent[0],
            tokens_out=spent[1],
            cached=cached,
            review_below=self.review_below,
        )

    def _cached(self, key: str, card: RubricCard) -> Verdict | None:
        hit = self._cache.get(key) if self._cache is not None else None
        if hit is None:
            return None
        try:
            verdict = Verdict.model_validate_json(hit.verdict)
        except ValueError:
            return None  # an entry of an incompatible version: ask again
        return None if card_problems(verdict, card) else verdict


def _lines(waiting: Sequence[PendingAnswer]) -> list[dict[str, object]]:
    """One request line per distinct request, in the order the answers were held."""
    lines: dict[str, dict[str, object]] = {}
    for answer in waiting:
        lines.setdefault(answer.custom_id, make_line(answer.custom_id, answer.request))
    return list(lines.values())


def _missing_reason(state: BatchState) -> str:
    if state.status == "failed":
        detail = f": {state.errors[0]}" if state.errors else ""
        return f"batch {state.batch_id} failed at validation{detail}"
    if state.status in ("expired", "cancelled"):
        return f"batch {state.batch_id} {state.status} before answering this request"
    return f"no result for this request in batch {state.batch_id}"
