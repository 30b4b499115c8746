"""The optimizer protocol: history in, a suggestion out. Optimizers never touch storage."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from tunehooks.metrics import Metric
from tunehooks.space import SearchSpace
from tunehooks.trial import Suggestion, TrialRecord, TrialState

__all__ = [
    "DEFAULT_CONTINUE_CHANCE",
    "Method",
    "Optimizer",
    "OptimizerBase",
    "pending_trials",
    "seeded_rng",
]

DEFAULT_CONTINUE_CHANCE = 0.2
"""``optimizer_options.continue_chance`` of the multi-fidelity optimizer: a trial a rung
rule would stop goes on while the model gives it this chance to beat the best."""


class Method(str, enum.Enum):
    """The optimizers selectable by name (``method=`` / ``method:`` in a sweep file)."""

    BAYES = "bayes"
    RANDOM = "random"
    GRID = "grid"
    SOBOL = "sobol"


class Optimizer(Protocol):
    """Proposes the next configuration from every trial of the experiment.

    ``history`` holds all trials, finished ones and pending ones (QUEUED and
    RUNNING) alike, in trial-number order. The answer depends only on the
    optimizer's seed and ``history``: the same history gives the same
    suggestion in any process. ``None`` means the optimizer has nothing left to
    propose (e.g. a finished grid).
    """

    def suggest(self, history: Sequence[TrialRecord]) -> Suggestion | None: ...


def seeded_rng(seed: int, history: Sequence[TrialRecord]) -> np.random.Generator:
    """A generator determined by the seed and the number of trials so far."""
    return np.random.default_rng([seed, len(history)])


def pending_trials(history: Sequence[TrialRecord]) -> list[TrialRecord]:
    return [t for t in history if t.state in (TrialState.QUEUED, TrialState.RUNNING)]


class OptimizerBase:
    """Holds what every optimizer needs: the space, the metrics and a seed."""

    def __init__(self, space: SearchSpace, metrics: Sequence[Metric], *, seed: int = 0) -> None:
        self.space = space
        self.metrics = list(metrics)
        self.seed = int(seed)
