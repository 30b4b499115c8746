"""Optimizers: random, grid, Sobol and the default GP Bayesian optimizer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tunehooks.fidelity import Fidelity, SchedulerKind
from tunehooks.metrics import Metric
from tunehooks.optimizers.base import Method, Optimizer, OptimizerBase
from tunehooks.space import SearchSpace

__all__ = ["Method", "Optimizer", "OptimizerBase", "make_optimizer"]


def make_optimizer(
    method: Method | str,
    space: SearchSpace,
    metrics: Sequence[Metric],
    *,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
    fidelity: Fidelity | None = None,
) -> Optimizer:
    """The optimizer for ``method`` (``options`` are passed to its constructor).

    With ``method="bayes"`` and a ``fidelity`` that schedules trials (a
    scheduler other than ``none``, or tasks), the multi-fidelity GP optimizer
    models every intermediate report.
    """
    kind = method if isinstance(method, Method) else Method(str(method).lower())
    opts = dict(options or {})
    if kind is Method.RANDOM:
        from tunehooks.optimizers.random import RandomOptimizer

        return RandomOptimizer(space, metrics, seed=seed, **opts)
    if kind is Method.SOBOL:
        from tunehooks.optimizers.sobol import SobolOptimizer

        return SobolOptimizer(space, metrics, seed=seed, **opts)
    if kind is Method.GRID:
        from tunehooks.optimizers.grid import GridOptimizer

        return GridOptimizer(space, metrics, seed=seed, **opts)
    if fidelity is not None and (
        fidelity.tasks is not None or fidelity.scheduler is not SchedulerKind.NONE
    ):
        from tunehooks.optimizers.gp import MultiFidelityOptimizer

        return MultiFidelityOptimizer(space, metrics, fidelity=fidelity, seed=seed, **opts)
    from tunehooks.optimizers.gp import GPOptimizer

    return GPOptimizer(space, metrics, seed=seed, **opts)
