"""The optimizer protocol: history in, a suggestion out. Optimizers never touch storage."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from tunehooks.metrics import Metric
from tunehooks.schedulers.model_guided import DEFAULT_CONTINUE_CHANCE
from tunehooks.space import SearchSpace
from tunehooks.trial import Suggestion, TrialRecord

__all__ = [
    "DEFAULT_CONTINUE_CHANCE",
    "Method",
    "Optimizer",
    "OptimizerBase",
    "seeded_rng",
]
# DEFAULT_CONTINUE_CHANCE: deprecated here, the model-guided scheduler's setting now
# (tunehooks.schedulers.DEFAULT_CONTINUE_CHANCE)


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

    Optional, with a default (inherited by subclasses such as
    :class:`OptimizerBase`): :meth:`chance_to_win`, the model's opinion the
    model-guided scheduler asks before a rung rule's STOP is final.
    """

    def suggest(self, history: Sequence[TrialRecord]) -> Suggestion | None: ...

    def chance_to_win(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> float | None:
        """The probability that ``trial``'s full-fidelity result beats the best one so far;
        ``None`` (the default): no opinion."""
        return None


def seeded_rng(seed: int, history: Sequence[TrialRecord]) -> np.random.Generator:
    """A generator determined by the seed and the number of trials so far."""
    return np.random.default_rng([seed, len(history)])


class OptimizerBase(Optimizer):
    """Holds what every optimizer needs: the space, the metrics and a seed.

    Example (an optimizer of one's own: the midpoint, then random configurations):
        >>> import tunehooks as th
        >>> from tunehooks.trial import Suggestion
        >>> class Midpoint(OptimizerBase):
        ...     def suggest(self, history):
        ...         if not history:
        ...             return Suggestion({"x": 0.5})
        ...         return Suggestion(self.space.sample(1, rng=seeded_rng(self.seed, history))[0])
        >>> opt = Midpoint(th.SearchSpace({"x": th.Float(0, 1)}), [th.Metric("y", "minimize")])
        >>> opt.suggest([]).params, opt.seed
        ({'x': 0.5}, 0)
    """

    def __init__(self, space: SearchSpace, metrics: Sequence[Metric], *, seed: int = 0) -> None:
        self.space = space
        self.metrics = list(metrics)
        self.seed = int(seed)
