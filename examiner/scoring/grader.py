"""Grading: pick a scorer (with its fallback), resolve cards, batch the work.

With a judge configured (`judge=JudgeSettings(...)`, mode `auto` or
`always`), every embedding grade then goes through the judge stage, which
sends the routed answers to the model concurrently and yields the final
grades in input order (see `examiner.judge.stage`).

Practice must not wait for the judge: `grade_staged` returns the embedding
grade at once and, when the answer is routed to the judge, a Future of the
judged grade, worked out on a background thread (see `StagedGrade`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ModelLoadError, Problem, UnknownCardError
from ..models import Grade, Rubric, RubricCard, Submission
from . import EmbeddingScorer, LexicalScorer, Scorer
from .calibration import Calibration

if TYPE_CHECKING:
    from ..config import JudgeSettings
    from ..judge import JudgeItem, JudgePlan, JudgeStage, JudgeUsage
    from ..judge.deferred import BatchJudge
    from ..judge.stage import ExamplesFor
    from ..ray_engine import RayEngine
    from .checker import Checker
    from .examples import ExampleBank

__all__ = ["Grader", "ScorerChoice", "StagedGrade"]

ScorerChoice = Literal["auto", "embedding", "lexical"]


def _ignore(_: str) -> None:
    pass


@dataclass(frozen=True)
class StagedGrade:
    """One answer graded in two steps: the embedding grade now, the judge's later.

    `judged` is None when the answer does not go to the judge (no judge, or
    not routed under its mode). Its result is always a Grade, never an
    exception: a judge failure is the embedding grade flagged `judge_failed`.
    It is cancelled only when the grader is closed before the judge got to it.
    """

    first: Grade
    judged: Future[Grade] | None = None


class Grader:
    """Grades answers against one rubric.

    >>> grader = Grader(load_rubric("rubrics/cnn-lesson3.yaml"))  # doctest: +SKIP
    >>> grader.grade("same-conv", "Output and input have the same size.").score  # doctest: +SKIP

    `scorer="auto"` uses the embedding model and falls back to the lexical
    scorer, with a notice, when the model cannot be loaded (a model that needs
    the `torch` extra raises instead: that is not a fallback but a set-up to fix).
    `threads`: texts the ONNX backend encodes at once (default: every core).
    `checker=False` grades without the answer checker (faster, less exact).
    `examples`: the teacher's graded answers, which pull close new answers'
    grades toward theirs (the embedding scorer only). `judge` adds the
    LLM judge stage after it (nothing is sent when its mode is `off`);
    close the grader (or use `with`) to release the judge's connections.
    """

    def __init__(
        self,
        rubric: Rubric,
        *,
        scorer: ScorerChoice | Scorer = "auto",
        model: str | None = None,
        calibration: Calibration | None = None,
        batch_size: int = 256,
        notice: Callable[[str], None] = _ignore,
        judge: JudgeSettings | None = None,
        threads: int | None = None,
        checker: bool = True,
        examples: ExampleBank | None = None,
    ) -> None:
        self.rubric = rubric
        self._examples = examples
        self._use_checker = checker
        self.judge_settings = judge if judge is not None and judge.mode != "off" else None
        self._judge: JudgeStage | None = None
        self.batch_size = batch_size
        self._choice = scorer
        self._model = model
        self._threads = threads
        self._calibration = calibration
        self._notice = notice
        self._scorer: Scorer | None = None if isinstance(scorer, str) else scorer
        self._prepared = False
        # The judge stage's routing window, pool and usage are not safe to share
        # between threads: one judged answer at a time goes through it.
        self._judge_lock = threading.Lock()
        # Held only to create the judge stage or the staged pool, never during a call.
        self._setup_lock = threading.Lock()
        self._staged: ThreadPoolExecutor | None = None
        self._open = 0

    @property
    def scorer(self) -> Scorer:
        """The scorer, loaded on first use (loading a model takes seconds)."""
        if self._scorer is None:
            self._scorer = self._make_scorer()
        if not self._prepared:
            # The whole rubric at once: each card's answers are compared with the others'.
            self._prepared = True
            prepare = getattr(self._scorer, "prepare", None)
            if prepare is not None:
                prepare(self.rubric.cards)
        return self._scorer

    def _make_scorer(self) -> Scorer:
        if self._choice == "lexical":
            return LexicalScorer(self._calibration)
        from .embedder import load_embedder

        try:
            embedder = load_embedder(self._model, threads=self._threads, notice=self._notice)
        except ModelLoadError as exc:
            if self._choice == "embedding":
                raise
            self._notice(f"{exc}; grading with the lexical scorer instead")
            return LexicalScorer()
        from .vector_cache import default_vector_cache

        return EmbeddingScorer(
            embedder,
            self._calibration,
            self._load_checker(),
            examples=self._examples,
            vector_cache=default_vector_cache(getattr(embedder, "fingerprint", "")),
        )

    def _load_checker(self) -> Checker | None:
        """The packaged answer checker; without it (or when it fails) the grade goes
        without its signals, which then count as average, with a notice."""
        if not self._use_checker:
            return None
        from .checker import load_checker

        try:
            return load_checker(threads=self._threads)
        except ModelLoadError as exc:
            self._notice(f"{exc}; grading without the answer checker")
            return None

    @property
    def judge(self) -> JudgeStage | None:
        """The judge stage, created on first use; None without a judge."""
        if self._judge is None and self.judge_settings is not None:
            from ..judge import JudgeStage, with_weight

            # The judge flags for review below the same confidence as the scorer.
            self._judge = JudgeStage(
                with_weight(self.judge_settings, self.scorer.calibration),
                notice=self._notice,
                review_below=self.scorer.calibration.review_below,
                examples=self._judge_examples(),
            )
        return self._judge

    def _judge_examples(self) -> ExamplesFor | None:
        """The teacher's graded answers closest to each answer, for the judge's prompt."""
        embedder = getattr(self.scorer, "embedder", None)
        if self._examples is None or embedder is None:
            return None
        return self._examples.for_judge(embedder)

    def worker_spec(self, *, threads: int | None = None) -> dict[str, Any]:
        """The arguments that build this grader's embedding stage in another process: the
        scorer it ended up with (after any fallback), so a worker grades exactly as this one."""
        scorer = self.scorer
        return {
            "rubric": self.rubric,
            "scorer": scorer.name,
            "model": self._model,
            "calibration": self._calibration,
            "batch_size": self.batch_size,
            "threads": threads if threads is not None else self._threads,
            "checker": getattr(scorer, "checker", None) is not None,
            "examples": self._examples,
        }

    def batch_judge(self, **options: Any) -> BatchJudge:
        """The judge through a batch (`--judge-batch`), with this grader's examples and review
        threshold; `options` go to `BatchJudge` (requests_file, results_file, wait, on_poll)."""
        from ..errors import JudgeConfigError
        from ..judge import with_weight
        from ..judge.deferred import BatchJudge

        if self.judge_settings is None:
            raise JudgeConfigError(
                "--judge-batch needs the judge: set EXAMINER_JUDGE_MODEL (or --judge-model), "
                "and not --judge off"
            )
        return BatchJudge(
            with_weight(self.judge_settings, self.scorer.calibration),
            examples=self._judge_examples(),
            review_below=self.scorer.calibration.review_below,
            **options,
        )

    @property
    def judge_usage(self) -> JudgeUsage | None:
        """Calls, cache hits, failures and tokens of the judge so far (None without one)."""
        return self._judge.usage if self._judge is not None else None

    def close(self) -> None:
        """Release the judge's threads, connections and cache file.

        Staged verdicts not yet asked are cancelled; the one being asked is
        let finish (at most the judge's timeout): its connection and cache
        write must end before the judge's are closed.
        """
        with self._setup_lock:
            staged, self._staged = self._staged, None
        if staged is not None:
            staged.shutdown(wait=True, cancel_futures=True)
        if self._judge is not None:
            self._judge.close()
            self._judge = None

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def warm_up(self) -> None:
        """Load the model, encode the whole rubric and grade one answer now.

        Practice calls this in the background while the first question is on
        screen, so that the first answer is graded as fast as the rest.
        """
        scorer = self.scorer
        prepare = getattr(scorer, "prepare", None)
        if prepare is not None:
            prepare(self.rubric.cards)
        card = self.rubric.cards[0]
        answer = card.reference_answer or card.key_points[0].text
        scorer.score_batch([(card, Submission(student_id="warm-up", card=card.id, answer=answer))])

    def card(self, ref: str | int) -> RubricCard:
        try:
            return self.rubric.card(ref)
        except KeyError:
            ids = ", ".join(c.id for c in self.rubric.cards[:8])
            more = ", …" if len(self.rubric.cards) > 8 else ""
            raise UnknownCardError(
                f"no card {str(ref)!r} in rubric {self.rubric.title!r}: use a card id "
                f"({ids}{more}), a number from 1 to {len(self.rubric.cards)} or the question text"
            ) from None

    def grade(self, card: str | int, answer: str, student_id: str = "me") -> Grade:
        """Grade one answer to one card."""
        found = self.card(card)
        sub = Submission(student_id=student_id, card=found.id, answer=answer)
        first = self.scorer.score_batch([(found, sub)])[0]
        judge = self.judge
        if judge is None:
            return first
        with self._judge_lock:
            return judge.judge(found, sub, first)

    def grade_staged(self, card: str | int, answer: str, student_id: str = "me") -> StagedGrade:
        """Grade one answer now; the judge's grade, if it is routed there, follows.

        The embedding stage runs in the calling thread; the judge's call in a
        background thread, one answer at a time, in the order given.
        """
        found = self.card(card)
        sub = Submission(student_id=student_id, card=found.id, answer=answer)
        first = self.scorer.score_batch([(found, sub)])[0]
        settings = self.judge_settings
        if settings is None:
            return StagedGrade(first)
        from ..judge import routes

        if not routes(first, settings):
            return StagedGrade(first)
        with self._setup_lock:
            judge = self.judge
            assert judge is not None
            if self._staged is None:
                self._staged = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="examiner-staged-judge"
                )
            future = self._staged.submit(self._judge_one, judge, found, sub, first)
            self._open += 1
        future.add_done_callback(self._settled)
        return StagedGrade(first, future)

    @property
    def judging(self) -> int:
        """Staged verdicts asked for and not yet in: what `close()` would wait for or cancel."""
        with self._setup_lock:
            return self._open

    def _settled(self, _: Future[Grade]) -> None:
        with self._setup_lock:
            self._open -= 1

    def _judge_one(
        self, judge: JudgeStage, card: RubricCard, sub: Submission, first: Grade
    ) -> Grade:
        with self._judge_lock:
            try:
                return judge.judge(card, sub, first)
            except Exception as exc:  # the stage catches its own; this guards the practice
                from ..judge.grading import failed_grade

                return failed_grade(first, f"unexpected {type(exc).__name__}: {exc}")

    def grade_many(
        self,
        submissions: Iterable[Submission | Problem],
        *,
        source: str = "<submissions>",
        engine: RayEngine | None = None,
    ) -> Iterator[Grade | Problem]:
        """Grade a stream of answers in batches, in input order.

        Problems (bad rows, unknown cards) are passed through in place, so a
        caller sees every row exactly once and good rows are never held back.
        With a judge, the routed answers are judged concurrently while the
        next batch is embedded; the order stays the input order. `engine`: where
        the embedding stage runs instead of this process (`--engine ray`).
        """
        first = (engine or self).first_stage(submissions, source=source)
        judge = self.judge
        if judge is not None:
            yield from judge.run(first)
            return
        for item in first:
            yield item if isinstance(item, Problem) else item[2]

    def first_stage(
        self, submissions: Iterable[Submission | Problem], *, source: str = "<submissions>"
    ) -> Iterator[JudgeItem | Problem]:
        """The embedding (or lexical) stage alone: (card, submission, grade) per good row."""
        stream = iter(submissions)
        while batch := list(islice(stream, self.batch_size)):
            yield from self._grade_batch(batch, source)

    def plan_judge(
        self, submissions: Iterable[Submission | Problem], *, source: str = "<submissions>"
    ) -> JudgePlan | None:
        """`--dry-run`: what the judge would be sent, without sending anything."""
        judge = self.judge
        if judge is None:
            return None
        return judge.plan(self.first_stage(submissions, source=source))

    def _grade_batch(
        self, batch: list[Submission | Problem], source: str
    ) -> list[JudgeItem | Problem]:
        out: list[JudgeItem | Problem | None] = [None] * len(batch)
        todo: list[tuple[RubricCard, Submission]] = []
        slots: dict[tuple[str, str], list[int]] = {}
        for i, item in enumerate(batch):
            if isinstance(item, Problem):
                out[i] = item
                continue
            try:
                card = self.rubric.card(item.card)
            except KeyError:
                out[i] = Problem(source, item.row, f"unknown card {item.card!r}", "card")
                continue
            # The same answer to the same card is graded once per batch.
            key = (card.id, item.answer)
            if key not in slots:
                slots[key] = []
                todo.append((card, item))
            slots[key].append(i)
        for (card, first), grade in zip(todo, self.scorer.score_batch(todo), strict=True):
            for i in slots[(card.id, first.answer)]:
                sub = batch[i]
                assert isinstance(sub, Submission)
                out[i] = (card, sub, grade if sub is first else _for(grade, sub))
        return [g for g in out if g is not None]


def _for(grade: Grade, sub: Submission) -> Grade:
    return grade.model_copy(
        update={"student_id": sub.student_id, "row": sub.row, "answer_id": sub.answer_id}
    )
