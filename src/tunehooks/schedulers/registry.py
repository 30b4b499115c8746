"""The schedulers selectable by name: ``fidelity.scheduler`` -> the class that implements it.

A new scheduler is one module (a :class:`~tunehooks.schedulers.base.Scheduler`
subclass taking ``(fidelity, metrics, *, seed, **settings)``), its name in
:class:`~tunehooks.fidelity.SchedulerKind`, and one line in :data:`SCHEDULERS`.

The registry is also how a scheduler passed to ``Experiment.create(scheduler=...)`` is
named in the stored experiment (:mod:`tunehooks.scheduler_config`):
:func:`scheduler_name` gives one of these by its name (``"asha"``) and any other class
(a user's rule) by its import path (``"my_rules:StopAtStep"``); :func:`scheduler_class`
reads both back, including the import paths tunehooks' own schedulers were stored under
before (``"tunehooks.schedulers.asha:ASHAScheduler"``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from tunehooks.fidelity import Fidelity, SchedulerKind
from tunehooks.metrics import Metric
from tunehooks.schedulers.asha import ASHAScheduler
from tunehooks.schedulers.asha_promotion import ASHAPromotionScheduler
from tunehooks.schedulers.base import NoScheduler, Scheduler, as_scheduler
from tunehooks.schedulers.hedged import HedgedScheduler
from tunehooks.schedulers.hyperband import HyperbandScheduler
from tunehooks.schedulers.median import MedianScheduler
from tunehooks.schedulers.model_guided import (
    DEFAULT_CONTINUE_CHANCE,
    ChanceToWin,
    ModelGuidedScheduler,
    check_continue_chance,
)
from tunehooks.schedulers.promotion import PromotionHyperbandScheduler

__all__ = ["SCHEDULERS", "make_scheduler", "scheduler_class", "scheduler_name"]

SCHEDULERS: dict[SchedulerKind, type[Scheduler]] = {
    SchedulerKind.NONE: NoScheduler,
    SchedulerKind.MEDIAN: MedianScheduler,
    SchedulerKind.ASHA: ASHAScheduler,
    SchedulerKind.HYPERBAND: HyperbandScheduler,
    SchedulerKind.PROMOTION: PromotionHyperbandScheduler,
    SchedulerKind.ASHA_PROMOTION: ASHAPromotionScheduler,
    SchedulerKind.HEDGED: HedgedScheduler,
}
"""The class of each scheduler name; each takes ``(fidelity, metrics, *, seed, **settings)``."""


def scheduler_name(cls: type) -> str:
    """The name ``cls`` is stored under: its name in :data:`SCHEDULERS`, else its import
    path ``module:QualName``.

    Example:
        >>> scheduler_name(ASHAScheduler), scheduler_name(ModelGuidedScheduler)
        ('asha', 'tunehooks.schedulers.model_guided:ModelGuidedScheduler')
    """
    for kind, registered in SCHEDULERS.items():
        if cls is registered:
            return kind.value
    return f"{cls.__module__}:{cls.__qualname__}"


def scheduler_class(name: str) -> Any:
    """The class a stored scheduler name stands for: a name of :data:`SCHEDULERS`, or an
    import path ``module:QualName`` (imported; an error of the import is raised as is).

    Example:
        >>> scheduler_class("asha") is ASHAScheduler
        True
        >>> scheduler_class("tunehooks.schedulers.asha:ASHAScheduler") is ASHAScheduler
        True
    """
    if ":" not in name:
        try:
            return SCHEDULERS[SchedulerKind(name)]
        except ValueError:
            choices = ", ".join(k.value for k in SchedulerKind)
            raise ValueError(
                f"scheduler {name!r} is not a registered scheduler ({choices}) nor an "
                "import path module:Class"
            ) from None
    module, _, qualname = name.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def make_scheduler(
    fidelity: Fidelity | None,
    metrics: Sequence[Metric],
    *,
    seed: int = 0,
    settings: Mapping[str, Any] | None = None,
    judge: ChanceToWin | None = None,
) -> Scheduler:
    """The scheduler an experiment's fidelity settings select.

    ``settings`` are the scheduler's keyword options (``brackets`` of
    Hyperband, ``min_trials`` of the median rule), plus ``continue_chance``:
    with a ``judge`` (the multi-fidelity optimizer's
    :meth:`~tunehooks.optimizers.gp.MultiFidelityOptimizer.chance_to_win`), a
    rung rule's STOP is checked with the model first
    (:class:`ModelGuidedScheduler` at ``continue_chance``, default 0.2; 0 turns
    it off). Without a judge ``continue_chance`` has no effect.

    Example:
        >>> import tunehooks as th
        >>> fid = th.Fidelity(min=1, max=27, scheduler="asha")
        >>> type(make_scheduler(fid, [th.Metric("acc", "maximize")])).__name__
        'ASHAScheduler'
        >>> type(make_scheduler(fid, [th.Metric("acc", "maximize")], judge=lambda t, h: None)).__name__
        'ModelGuidedScheduler'
    """
    options = dict(settings or {})
    chance = check_continue_chance(
        options.pop("continue_chance", DEFAULT_CONTINUE_CHANCE),
        field="scheduler.continue_chance",
    )
    if fidelity is None:
        base: Scheduler = NoScheduler()
    else:
        cls: Any = SCHEDULERS[fidelity.scheduler]
        try:
            built = cls(fidelity, metrics, seed=seed, **options)
        except TypeError as e:
            raise ValueError(
                f"scheduler: {fidelity.scheduler.value} does not take {sorted(options)} ({e})"
            ) from None
        base = as_scheduler(built)  # a registered class that is no subclass gets the defaults
    if judge is None or chance <= 0 or not base.needs_history:
        return base
    if not getattr(base, "second_opinion", True):  # a rule that declines the model's opinion
        return base
    # the judge (and torch) is only asked once a rung rule says STOP
    return ModelGuidedScheduler(base, judge, min_chance=chance)
