"""Grading: pick a scorer (with its fallback), resolve cards, batch the work."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Literal

from .calibration import Calibration
from .errors import ModelLoadError, Problem, UnknownCardError
from .models import Grade, Rubric, RubricCard, Submission
from .scorers import EmbeddingScorer, LexicalScorer, Scorer

__all__ = ["Grader", "ScorerChoice"]

ScorerChoice = Literal["auto", "embedding", "lexical"]


def _ignore(_: str) -> None:
    pass


class Grader:
    """Grades answers against one rubric.

    >>> grader = Grader(load_rubric("rubrics/cnn-lesson3.yaml"))  # doctest: +SKIP
    >>> grader.grade("same-conv", "Output and input have the same size.").score  # doctest: +SKIP

    `scorer="auto"` uses the embedding model and falls back to the lexical
    scorer, with a notice, when the model cannot be loaded.
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
    ) -> None:
        self.rubric = rubric
        self.batch_size = batch_size
        self._choice = scorer
        self._model = model
        self._calibration = calibration
        self._notice = notice
        self._scorer: Scorer | None = None if isinstance(scorer, str) else scorer

    @property
    def scorer(self) -> Scorer:
        """The scorer, loaded on first use (loading a model takes seconds)."""
        if self._scorer is None:
            self._scorer = self._make_scorer()
        return self._scorer

    def _make_scorer(self) -> Scorer:
        if self._choice == "lexical":
            return LexicalScorer(self._calibration)
        from .embedder import load_embedder

        try:
            embedder = load_embedder(self._model)
        except ModelLoadError as exc:
            if self._choice == "embedding":
                raise
            self._notice(f"{exc}; grading with the lexical scorer instead")
            return LexicalScorer()
        return EmbeddingScorer(embedder, self._calibration)

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
        return self.scorer.score_batch([(found, sub)])[0]

    def grade_many(
        self, submissions: Iterable[Submission | Problem], *, source: str = "<submissions>"
    ) -> Iterator[Grade | Problem]:
        """Grade a stream of answers in batches, in input order.

        Problems (bad rows, unknown cards) are passed through in place, so a
        caller sees every row exactly once and good rows are never held back.
        """
        stream = iter(submissions)
        while batch := list(islice(stream, self.batch_size)):
            yield from self._grade_batch(batch, source)

    def _grade_batch(self, batch: list[Submission | Problem], source: str) -> list[Grade | Problem]:
        out: list[Grade | Problem | None] = [None] * len(batch)
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
                out[i] = grade if sub is first else _for(grade, sub)
        return [g for g in out if g is not None]


def _for(grade: Grade, sub: Submission) -> Grade:
    return grade.model_copy(
        update={"student_id": sub.student_id, "row": sub.row, "answer_id": sub.answer_id}
    )
