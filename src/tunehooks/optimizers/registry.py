"""The optimizers selectable by name: ``method`` -> the class that implements it.

A new optimizer is one module (an :class:`~tunehooks.optimizers.base.OptimizerBase`
subclass taking ``(space, metrics, *, seed, **options)``), its name in
:class:`~tunehooks.optimizers.base.Method`, and one line in :data:`OPTIMIZERS`
(or, for a model of every intermediate report, in :data:`MULTI_FIDELITY`; such a
class also takes ``fidelity=`` and ``scheduler=``). Classes are named by
``module:Class`` and imported when asked for, so torch loads only with the GP.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunehooks.fidelity import Fidelity, SchedulerKind
from tunehooks.metrics import Metric
from tunehooks.optimizers.base import Method, Optimizer
from tunehooks.space import SearchSpace

if TYPE_CHECKING:
    from tunehooks.schedulers import Scheduler

__all__ = ["MULTI_FIDELITY", "OPTIMIZERS", "make_optimizer", "optimizer_class"]

OPTIMIZERS: dict[Method, str] = {
    Method.BAYES: "tunehooks.optimizers.gp:GPOptimizer",
    Method.RANDOM: "tunehooks.optimizers.random:RandomOptimizer",
    Method.GRID: "tunehooks.optimizers.grid:GridOptimizer",
    Method.SOBOL: "tunehooks.optimizers.sobol:SobolOptimizer",
}
"""Each method's optimizer."""

MULTI_FIDELITY: dict[Method, str] = {
    Method.BAYES: "tunehooks.optimizers.gp:MultiFidelityOptimizer",
}
"""A method's optimizer when the fidelity schedules trials (a scheduler other than
``none``, or tasks): it models every intermediate report."""


def _schedules(fidelity: Fidelity | None) -> bool:
    return fidelity is not None and (
        fidelity.tasks is not None or fidelity.scheduler is not SchedulerKind.NONE
    )


def _multi_fidelity(method: Method, fidelity: Fidelity | None) -> bool:
    return method in MULTI_FIDELITY and _schedules(fidelity)


def optimizer_class(method: Method, fidelity: Fidelity | None = None) -> type[Any]:
    """The optimizer class :func:`make_optimizer` builds for ``method`` (imported now).

    Example:
        >>> optimizer_class(Method.RANDOM).__name__
        'RandomOptimizer'
    """
    path = (MULTI_FIDELITY if _multi_fidelity(method, fidelity) else OPTIMIZERS)[method]
    module, _, name = path.partition(":")
    cls: type[Any] = getattr(importlib.import_module(module), name)
    return cls


def make_optimizer(
    method: Method | str,
    space: SearchSpace,
    metrics: Sequence[Metric],
    *,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
    fidelity: Fidelity | None = None,
    scheduler: Scheduler | None = None,
) -> Optimizer:
    """The optimizer for ``method`` (``options`` are passed to its constructor).

    With ``method="bayes"`` and a ``fidelity`` that schedules trials (a
    scheduler other than ``none``, or tasks), the multi-fidelity GP optimizer
    models every intermediate report; it asks ``scheduler`` (by default the
    one ``fidelity`` selects) where new trials are first judged.
    """
    kind = method if isinstance(method, Method) else Method(str(method).lower())
    cls = optimizer_class(kind, fidelity)
    opts = dict(options or {})
    if _multi_fidelity(kind, fidelity):
        opts.update(fidelity=fidelity, scheduler=scheduler)
    optimizer: Optimizer = cls(space, metrics, seed=seed, **opts)
    return optimizer
