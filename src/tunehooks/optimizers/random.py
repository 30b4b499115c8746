"""Random search: uniform in the encoded space, conditions and constraints respected."""

from __future__ import annotations

from collections.abc import Sequence

from tunehooks.optimizers.base import OptimizerBase, seeded_rng
from tunehooks.trial import Suggestion, TrialRecord

__all__ = ["RandomOptimizer"]


class RandomOptimizer(OptimizerBase):
    """Uniform random configurations, reproducible from the seed and the history.

    Example:
        >>> import tunehooks as th
        >>> opt = RandomOptimizer(th.SearchSpace({"x": th.Float(0, 1)}), [th.Metric("y", "minimize")])
        >>> 0 <= opt.suggest([]).params["x"] <= 1
        True
    """

    def suggest(self, history: Sequence[TrialRecord]) -> Suggestion | None:
        return Suggestion(self.space.sample(1, rng=seeded_rng(self.seed, history))[0])
