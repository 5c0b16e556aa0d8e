"""Scorers: each measures similarity its own way and grades by the shared rules."""

from .base import Evidence, Scorer, assess
from .embedding import EmbeddingScorer
from .lexical import LexicalScorer

__all__ = ["EmbeddingScorer", "Evidence", "LexicalScorer", "Scorer", "assess"]
