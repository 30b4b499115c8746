"""Scrambled Sobol sequences: even coverage, also the GP optimizer's initial design."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunehooks.optimizers.base import OptimizerBase, seeded_rng
from tunehooks.space import SearchSpace
from tunehooks.trial import Suggestion, TrialRecord

__all__ = ["SobolOptimizer", "sobol_points"]


def sobol_points(space: SearchSpace, n: int, *, seed: int, skip: int = 0) -> np.ndarray:
    """Points ``skip .. skip+n-1`` of a scrambled Sobol sequence in ``[0, 1]^dim``."""
    from scipy.stats import qmc

    if space.dim == 0:
        return np.zeros((n, 0))
    engine = qmc.Sobol(d=space.dim, scramble=True, seed=np.random.default_rng(seed))
    if skip:
        engine.fast_forward(skip)
    return np.asarray(engine.random(n))


class SobolOptimizer(OptimizerBase):
    """The next point of one scrambled Sobol sequence per experiment seed.

    Points that violate a constraint are skipped; after many infeasible points
    in a row it falls back to rejection sampling.

    Example:
        >>> import tunehooks as th
        >>> opt = SobolOptimizer(th.SearchSpace({"x": th.Float(0, 1)}), [th.Metric("y", "minimize")])
        >>> 0 <= opt.suggest([]).params["x"] <= 1
        True
    """

    def suggest(self, history: Sequence[TrialRecord]) -> Suggestion | None:
        start = len(history)
        chunk = sobol_points(self.space, 64, seed=self.seed, skip=start)
        for cfg in self.space.from_unit(chunk)[:1]:
            return Suggestion(cfg)
        return Suggestion(self.space.sample(1, rng=seeded_rng(self.seed, history))[0])
