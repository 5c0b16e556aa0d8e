"""Scorers: each measures similarity its own way and grades by the shared rules."""

from .embedding_scorer import EmbeddingScorer
from .evidence import Evidence
from .lexical_scorer import LexicalScorer
from .score import Scorer, assess

__all__ = ["EmbeddingScorer", "Evidence", "LexicalScorer", "Scorer", "assess"]
