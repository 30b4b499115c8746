"""Early-stopping schedulers: none, median rule, ASHA, Hyperband."""

from __future__ import annotations

from collections.abc import Sequence

from tunehooks.fidelity import Fidelity, SchedulerKind
from tunehooks.metrics import Metric
from tunehooks.schedulers.base import NoScheduler, Scheduler

__all__ = ["NoScheduler", "Scheduler", "make_scheduler"]


def make_scheduler(
    fidelity: Fidelity | None, metrics: Sequence[Metric], *, seed: int = 0
) -> Scheduler:
    """The scheduler an experiment's fidelity settings select."""
    if fidelity is None or fidelity.scheduler is SchedulerKind.NONE:
        return NoScheduler()
    raise NotImplementedError(f"scheduler {fidelity.scheduler.value!r} is not implemented yet")
