"""The judge stage: routing, concurrent calls and caching (the judged Grade: `grading.py`).

`JudgeStage.run` takes a stream of (card, submission, embedding Grade) and
yields the final Grades in input order, whatever order the replies come
back in. Up to `concurrency` requests are in flight at once on one shared
client (one connection pool), within a window of submitted answers, so a
slow reply delays only its own answer's turn to be yielded, never the
requests of the others. Identical answers to the same card are asked once;
a verdict already in the cache costs nothing.

A failure of any kind (no configuration, unreachable server, a reply still
invalid after the re-asks, or a bug) is caught per answer: the embedding
grade stands, flagged `judge_failed` with the reason.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import JudgeSettings
from ..errors import JudgeConfigError, JudgeError, Problem
from ..models import Flag, Grade, RubricCard, Submission
from .cache import VerdictCache, cache_key
from .client import JudgeClient, RateLimiter
from .grading import DEFAULT_REVIEW_BELOW, failed_grade, judge_grade
from .prompt import PROMPT_VERSION, estimate_tokens, judge_messages
from .verdict import Verdict, card_problems, reply_budget, verdict_schema

if TYPE_CHECKING:
    from ..scoring.examples import GradedExample

__all__ = [
    "ExamplesFor",
    "JudgeItem",
    "JudgePlan",
    "JudgeStage",
    "JudgeUsage",
    "routes",
    "verdict_key",
]

JudgeItem = tuple[RubricCard, Submission, Grade]
# The teacher's graded answers to show the judge beside one answer (closest first).
ExamplesFor = Callable[[RubricCard, str], Sequence["GradedExample"]]

# A verdict is about this many tokens per key point, plus the feedback (for --dry-run).
_OUT_BASE, _OUT_PER_POINT = 120, 60


def verdict_key(
    model: str, card: RubricCard, answer: str, shown: Sequence[GradedExample] = ()
) -> str:
    """The cache key of a verdict: the examples shown are part of the prompt, so of the key."""
    version = PROMPT_VERSION
    if shown:
        digest = hashlib.sha256()
        for e in shown:
            digest.update(f"{e.answer}\x1f{e.score:.4f}\x1e".encode())
        version += f"+examples:{digest.hexdigest()[:16]}"
    return cache_key(model, version, card, answer)


def routes(grade: Grade, settings: JudgeSettings) -> bool:
    """Whether an embedding grade goes to the judge under the settings' mode.

    `always`: every answer that is not empty. `auto`: answers the embedding
    stage is not confident about (below `route_below`) or flagged.
    """
    if settings.mode == "off" or Flag.EMPTY in grade.flags or not grade.answer.strip():
        return False
    if settings.mode == "always":
        return True
    return grade.confidence < settings.route_below or bool(grade.flags)


@dataclass
class JudgeUsage:
    """What the judge stage did in a run; tokens are what was spent (cache hits cost 0)."""

    routed: int = 0
    judged: int = 0
    failed: int = 0
    cache_hits: int = 0
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    failures: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class JudgePlan:
    """What `--dry-run` found: the calls and tokens a real run would spend."""

    answers: int
    routed: int
    cached: int
    calls: int
    tokens_in: int
    tokens_out: int
    problem: str | None = None


@dataclass
class _Outcome:
    verdict: Verdict | None = None
    error: JudgeError | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    calls: int = 0
    cached: bool = False
    claimed: bool = False


@dataclass
class _Pending:
    value: Grade | Problem | None = None
    future: Future[_Outcome] | None = None
    card: RubricCard | None = None
    first: Grade | None = None
    key: str = ""

    def done(self) -> bool:
        return self.future is None or self.future.done()


def _ignore(_: str) -> None:
    pass


class JudgeStage:
    """The optional second stage. Create one per run; `close()` it (or use `with`).

    `review_below`: the confidence under which a judged grade is flagged for
    review, the grader's calibration's `review_below`. `examples`: where the
    teacher's graded answers closest to an answer come from, shown to the
    judge with their grades.
    """

    def __init__(
        self,
        settings: JudgeSettings,
        *,
        notice: Callable[[str], None] = _ignore,
        review_below: float = DEFAULT_REVIEW_BELOW,
        examples: ExamplesFor | None = None,
    ):
        self.settings = settings
        self.review_below = review_below
        self._examples = examples
        self.usage = JudgeUsage()
        self._notice = notice
        self._problem = settings.problem
        self._cache = VerdictCache(settings.cache_file()) if settings.cache else None
        self._limiter = RateLimiter(settings.max_rpm)
        # One client (one connection pool) for the run, made now: importing and
        # setting up the SDK takes a moment that should not fall on the first answer.
        self._client = None if self._problem else JudgeClient(settings, limiter=self._limiter)
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: dict[str, Future[_Outcome]] = {}
        self._warned = False
        self._warned_cache = False

    @property
    def model(self) -> str:
        return self.settings.model or ""

    def __enter__(self) -> JudgeStage:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cache is not None:
            self._cache.close()

    # -- the stream ---------------------------------------------------------

    def judge(self, card: RubricCard, sub: Submission, first: Grade) -> Grade:
        """The final grade of one answer (judged if routed, else `first` unchanged)."""
        return next(self.judge_many([(card, sub, first)]))

    def judge_many(self, items: Iterable[JudgeItem]) -> Iterator[Grade]:
        """Final grades for a stream of (card, submission, embedding grade), in input order."""
        for out in self.run(items):
            assert isinstance(out, Grade)
            yield out

    def run(self, items: Iterable[JudgeItem | Problem]) -> Iterator[Grade | Problem]:
        """Like `judge_many`, passing Problems (bad rows) through in their place."""
        window: deque[_Pending] = deque()
        limit = max(4 * self.settings.concurrency, 32)
        for item in items:
            window.append(self._submit(item))
            while window and (len(window) >= limit or window[0].done()):
                yield self._resolve(window.popleft())
        while window:
            yield self._resolve(window.popleft())

    def _submit(self, item: JudgeItem | Problem) -> _Pending:
        if isinstance(item, Problem):
            return _Pending(value=item)
        card, sub, first = item
        if not routes(first, self.settings):
            return _Pending(value=first)
        self.usage.routed += 1
        if self._problem:
            if not self._warned:
                self._notice(f"judge not used: {self._problem}")
                self._warned = True
            done: Future[_Outcome] = Future()
            done.set_result(_Outcome(error=JudgeConfigError(self._problem)))
            return _Pending(future=done, card=card, first=first)
        shown = self._shown(card, sub.answer)
        key = self._key(card, sub.answer, shown)
        future = self._inflight.get(key)
        if future is None:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._workers(), thread_name_prefix="examiner-judge"
                )
            future = self._pool.submit(self._fetch, key, card, sub.answer, first, shown)
            self._inflight[key] = future
        return _Pending(future=future, card=card, first=first, key=key)

    def _shown(self, card: RubricCard, answer: str) -> Sequence[GradedExample]:
        return self._examples(card, answer) if self._examples is not None else ()

    def _key(self, card: RubricCard, answer: str, shown: Sequence[GradedExample]) -> str:
        return verdict_key(self.model, card, answer, shown)

    def _workers(self) -> int:
        """Requests in flight: the setting, or fewer if the server has fewer slots."""
        wanted = self.settings.concurrency
        slots = self._client.server_slots() if self._client is not None else None
        if slots is not None and slots < wanted:
            self._notice(
                f"the judge server serves {slots} request(s) at once: sending {slots} at a time"
            )
            return slots
        return wanted

    def _resolve(self, pending: _Pending) -> Grade | Problem:
        if pending.future is None:
            assert pending.value is not None
            return pending.value
        assert pending.card is not None and pending.first is not None
        outcome = pending.future.result()
        if self._cache is not None and self._cache.broken and not self._warned_cache:
            self._notice(self._cache.broken)
            self._warned_cache = True
        self._inflight.pop(pending.key, None)
        grade = self._finish(pending.card, pending.first, outcome)
        outcome.claimed = True
        return grade

    def _finish(self, card: RubricCard, first: Grade, outcome: _Outcome) -> Grade:
        """Account for the outcome once, and turn it into the final grade."""
        usage = self.usage
        fresh = not outcome.claimed
        spent_in = outcome.tokens_in if fresh and not outcome.cached else 0
        spent_out = outcome.tokens_out if fresh and not outcome.cached else 0
        if fresh:
            usage.calls += outcome.calls
        usage.tokens_in += spent_in
        usage.tokens_out += spent_out
        if outcome.verdict is None:
            error = outcome.error or JudgeError("no verdict")
            usage.failed += 1
            kind = type(error).__name__
            usage.failures[kind] = usage.failures.get(kind, 0) + 1
            return failed_grade(first, str(error), spent_in, spent_out)
        usage.judged += 1
        cached = outcome.cached or not fresh
        if cached:
            usage.cache_hits += 1
        return judge_grade(
            card,
            first,
            outcome.verdict,
            self.settings,
            tokens_in=spent_in,
            tokens_out=spent_out,
            cached=cached,
            review_below=self.review_below,
        )

    # -- one request (in a worker thread) -------------------------------------

    def _fetch(
        self,
        key: str,
        card: RubricCard,
        answer: str,
        first: Grade,
        shown: Sequence[GradedExample],
    ) -> _Outcome:
        try:
            if self._cache is not None:
                hit = self._cache.get(key)
                if hit is not None:
                    try:
                        verdict = Verdict.model_validate_json(hit.verdict)
                    except ValueError:
                        pass  # an entry from an incompatible version: ask again
                    else:
                        if not card_problems(verdict, card):
                            return _Outcome(verdict, None, hit.tokens_in, hit.tokens_out, 0, True)
            assert self._client is not None
            reply = self._client.ask(
                judge_messages(card, answer, first, shown),
                Verdict,
                verdict_schema(card),
                name="verdict",
                check=lambda v: card_problems(v, card),
                max_tokens=reply_budget(card),
            )
            if self._cache is not None:
                self._cache.put(
                    key,
                    model=self.model,
                    prompt_version=PROMPT_VERSION,
                    card_id=card.id,
                    verdict=reply.value.model_dump_json(),
                    tokens_in=reply.tokens_in,
                    tokens_out=reply.tokens_out,
                )
            return _Outcome(reply.value, None, reply.tokens_in, reply.tokens_out, reply.calls)
        except JudgeError as exc:
            return _Outcome(None, exc, exc.tokens_in, exc.tokens_out, 0)
        except Exception as exc:  # one bad reply never stops a class being graded
            message = f"unexpected {type(exc).__name__}: {exc}"
            secret = self.settings.api_key
            if secret:
                message = message.replace(secret, "***")
            return _Outcome(None, JudgeError(message))

    # -- dry run ----------------------------------------------------------------

    def plan(self, items: Iterable[JudgeItem | Problem]) -> JudgePlan:
        """Count the calls and estimate the tokens a run would spend; sends nothing."""
        answers = routed = cached = calls = tokens_in = tokens_out = 0
        seen: set[str] = set()
        for item in items:
            if isinstance(item, Problem):
                continue
            card, sub, first = item
            answers += 1
            if not routes(first, self.settings):
                continue
            routed += 1
            shown = self._shown(card, sub.answer)
            key = self._key(card, sub.answer, shown)
            if key in seen or (self._cache is not None and self._cache.contains(key)):
                cached += 1
                continue
            seen.add(key)
            calls += 1
            tokens_in += estimate_tokens(judge_messages(card, sub.answer, first, shown))
            tokens_out += _OUT_BASE + _OUT_PER_POINT * len(card.key_points)
        return JudgePlan(answers, routed, cached, calls, tokens_in, tokens_out, self._problem)
