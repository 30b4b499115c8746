"""Grid search over every combination (``points`` values per float), conditions respected."""

from __future__ import annotations

import json
from collections.abc import Sequence

from tunehooks.metrics import Metric
from tunehooks.optimizers.base import OptimizerBase
from tunehooks.space import SearchSpace
from tunehooks.trial import Suggestion, TrialRecord

__all__ = ["GridOptimizer"]


def _key(params: object) -> str:
    return json.dumps(params, sort_keys=True)


class GridOptimizer(OptimizerBase):
    """Each grid configuration once, in order; ``None`` when the grid is done.

    Example:
        >>> import tunehooks as th
        >>> opt = GridOptimizer(th.SearchSpace({"k": th.Categorical(["a", "b"])}),
        ...                     [th.Metric("y", "minimize")])
        >>> opt.suggest([]).params
        {'k': 'a'}
    """

    def __init__(
        self, space: SearchSpace, metrics: Sequence[Metric], *, seed: int = 0, points: int = 5
    ) -> None:
        super().__init__(space, metrics, seed=seed)
        if points < 2:
            raise ValueError(f"grid points per float must be >= 2 (got {points})")
        self.points = points

    def suggest(self, history: Sequence[TrialRecord]) -> Suggestion | None:
        seen = {_key(dict(t.params)) for t in history}
        for cfg in self.space.grid(points=self.points):
            if _key(cfg) not in seen:
                return Suggestion(cfg)
        return None
