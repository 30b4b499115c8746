"""Early-stopping schedulers: none, median rule, ASHA, Hyperband (stop and promotion modes);
a model's second opinion."""

from __future__ import annotations

from collections.abc import Sequence

from tunehooks.fidelity import Fidelity, SchedulerKind
from tunehooks.metrics import Metric
from tunehooks.schedulers.asha import ASHAScheduler
from tunehooks.schedulers.asha_promotion import ASHAPromotionScheduler
from tunehooks.schedulers.base import NoScheduler, Scheduler
from tunehooks.schedulers.hedged import HedgedScheduler
from tunehooks.schedulers.hyperband import HyperbandScheduler
from tunehooks.schedulers.median import MedianScheduler
from tunehooks.schedulers.model_guided import ChanceToWin, ModelGuidedScheduler
from tunehooks.schedulers.promotion import PromotionHyperbandScheduler

__all__ = [
    "ASHAPromotionScheduler",
    "ASHAScheduler",
    "ChanceToWin",
    "HedgedScheduler",
    "HyperbandScheduler",
    "MedianScheduler",
    "ModelGuidedScheduler",
    "NoScheduler",
    "PromotionHyperbandScheduler",
    "Scheduler",
    "make_scheduler",
]


def make_scheduler(
    fidelity: Fidelity | None, metrics: Sequence[Metric], *, seed: int = 0
) -> Scheduler:
    """The scheduler an experiment's fidelity settings select.

    Example:
        >>> import tunehooks as th
        >>> fid = th.Fidelity(min=1, max=27, scheduler="asha")
        >>> type(make_scheduler(fid, [th.Metric("acc", "maximize")])).__name__
        'ASHAScheduler'
    """
    if fidelity is None or fidelity.scheduler is SchedulerKind.NONE:
        return NoScheduler()
    if fidelity.scheduler is SchedulerKind.ASHA:
        return ASHAScheduler(fidelity, metrics, seed=seed)
    if fidelity.scheduler is SchedulerKind.HYPERBAND:
        return HyperbandScheduler(fidelity, metrics, seed=seed)
    if fidelity.scheduler is SchedulerKind.ASHA_PROMOTION:
        return ASHAPromotionScheduler(fidelity, metrics, seed=seed)
    if fidelity.scheduler is SchedulerKind.HEDGED:
        return HedgedScheduler(fidelity, metrics, seed=seed)
    if fidelity.scheduler is SchedulerKind.PROMOTION:
        return PromotionHyperbandScheduler(fidelity, metrics, seed=seed)
    return MedianScheduler(fidelity, metrics, seed=seed)
