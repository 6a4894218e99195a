"""Automatic metrics ("gates") for generations. See :mod:`scorers.base` for the protocol and the registry.

Importing this package is cheap: scorer modules import heavy libraries (torch, transformers, scikit-learn)
only when a scorer is built and first used.
"""

from scorers.base import REGISTRY, ScoreItem, Scorer, ScoreResult, ScorerSpec, create_scorer

__all__ = ["REGISTRY", "ScoreItem", "ScoreResult", "Scorer", "ScorerSpec", "create_scorer"]
