"""The rubrics the server was started with, and one grader for each.

Why it is built this way:

- The model loads once per deck, lazily: the first practice page starts
  loading it in a background thread (`warm_up_soon`), so a student reads the
  question while it loads, and nothing loads at import or at start.
- One grader serves every request for its deck, its scorer behind a lock
  (`SerialScorer`): a tokenizer is not safe to share between threads, and a
  class run grades in batches of `BATCH_SIZE`, so a student's answer waits
  for at most one batch.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models import Grade, Rubric, RubricCard, Submission
from ..practice import rubric_key
from ..rubric import load_rubric
from ..scoring import Scorer
from ..scoring.grader import Grader
from ..store import rubric_hash
from .config import ServeConfig

__all__ = ["BATCH_SIZE", "Deck", "Decks", "GraderFactory", "SerialScorer"]

# Answers a class run grades between two chances for a practice answer to be graded.
BATCH_SIZE = 32

# Makes a deck's grader; its notices ("grading with the lexical scorer…") go to the callable.
GraderFactory = Callable[[Rubric, Callable[[str], None]], Grader]


class SerialScorer:
    """A scorer used by one thread at a time; everything else is the wrapped scorer's."""

    def __init__(self, inner: Scorer, lock: threading.Lock) -> None:
        self._inner = inner
        self._lock = lock
        self.name = inner.name
        self.model = inner.model
        self.calibration = inner.calibration

    def __getattr__(self, name: str) -> Any:
        # The rest is the wrapped scorer's (a run's identity reads its checker and examples),
        # so a run graded here resumes, and is resumed by, `examiner grade`.
        return getattr(self._inner, name)

    def prepare(self, cards: Sequence[RubricCard]) -> None:
        prepare = getattr(self._inner, "prepare", None)
        if prepare is not None:
            with self._lock:
                prepare(cards)

    def assess_batch(self, items: Sequence[tuple[RubricCard, Submission]]) -> list[Any]:
        with self._lock:
            return self._inner.assess_batch(items)

    def score_batch(self, items: Sequence[tuple[RubricCard, Submission]]) -> list[Grade]:
        with self._lock:
            return self._inner.score_batch(items)


@dataclass
class Deck:
    """One rubric served: its file, its key in the practice history, and its grader."""

    slug: str
    path: Path
    rubric: Rubric
    factory: GraderFactory
    notices: list[str] = field(default_factory=list)
    _grader: Grader | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loading: threading.Thread | None = None
    load_error: str | None = None

    @property
    def title(self) -> str:
        return self.rubric.title or self.path.stem

    @property
    def history_key(self) -> str:
        """The name `examiner practice` files this rubric's history under."""
        return rubric_key(self.rubric, self.path)

    @property
    def hash(self) -> str:
        return rubric_hash(self.rubric)

    def grader(self) -> Grader:
        """The deck's grader, its model loaded (the first call waits for the load)."""
        with self._lock:
            if self._grader is None:
                try:
                    base = self.factory(self.rubric, self.notices.append)
                    serial = SerialScorer(base.scorer, threading.Lock())
                except Exception as exc:  # the practice page says so; the next answer retries
                    self.load_error = str(exc)
                    raise
                self._grader = Grader(
                    self.rubric, scorer=serial, judge=base.judge_settings, batch_size=BATCH_SIZE
                )
            return self._grader

    def warm_up_soon(self) -> None:
        """Start loading the model in the background, once."""
        with self._lock:
            if self._grader is not None or self._loading is not None:
                return
            self._loading = threading.Thread(
                target=self._warm, name=f"examiner-load-{self.slug}", daemon=True
            )
            self._loading.start()

    def _warm(self) -> None:
        try:
            self.grader().warm_up()
            self.load_error = None
        except Exception as exc:  # shown on the practice page; grading raises it again
            self.load_error = str(exc)
        finally:
            with self._lock:
                self._loading = None  # a failed load may be tried again by the next page

    def card(self, card_id: str) -> RubricCard | None:
        for card in self.rubric.cards:
            if card.id == card_id:
                return card
        return None


class Decks:
    """The decks, by slug, in the order given."""

    def __init__(self, config: ServeConfig, factory: GraderFactory | None = None) -> None:
        self.config = config
        self.by_slug: dict[str, Deck] = {}
        for path in config.rubrics:
            rubric = load_rubric(path)
            slug = _unique(_slug(rubric.title or path.stem), self.by_slug)
            deck = Deck(slug, path, rubric, factory or _default_factory(config))
            self.by_slug[slug] = deck

    def __iter__(self) -> Any:
        return iter(self.by_slug.values())

    def __len__(self) -> int:
        return len(self.by_slug)

    def get(self, slug: str) -> Deck | None:
        return self.by_slug.get(slug)

    def by_hash(self, wanted: str) -> Deck | None:
        """The deck whose rubric is exactly the one a run graded with."""
        return next((d for d in self if d.hash == wanted), None)


def _default_factory(config: ServeConfig) -> GraderFactory:
    def make(rubric: Rubric, notice: Callable[[str], None]) -> Grader:
        from ..config import judge_settings

        # The judge as `examiner practice` has it by default: auto when one is configured.
        return Grader(rubric, scorer=config.scorer, notice=notice, judge=judge_settings())

    return make


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or "deck"


def _unique(slug: str, taken: dict[str, Deck]) -> str:
    candidate, n = slug, 2
    while candidate in taken:
        candidate, n = f"{slug}-{n}", n + 1
    return candidate
