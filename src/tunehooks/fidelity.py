"""Fidelity settings: how partial trainings are measured and scheduled."""

from __future__ import annotations

import builtins
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from typing_extensions import deprecated

from tunehooks._deprecation import warn_renamed
from tunehooks.metrics import Metric, optimized_metrics

__all__ = ["Fidelity", "SchedulerKind", "Task"]


class SchedulerKind(str, enum.Enum):
    """Early-stopping rules selectable by name (``fidelity.scheduler`` in a sweep file)."""

    NONE = "none"
    MEDIAN = "median"
    ASHA = "asha"
    HYPERBAND = "hyperband"
    PROMOTION = "promotion"  # synchronous Hyperband: pause at rungs, resume the best
    ASHA_PROMOTION = "asha_promotion"  # asynchronous: pause at rungs, resume a rung's top 1/eta
    HEDGED = "hedged"  # promotion that promotes more where rungs mislead (opt-in)


@dataclass(frozen=True)
class Task:
    """A SigOpt-style task: a named fraction ``cost`` in (0, 1] of a full training.

    Example:
        >>> Task("short", 0.1).cost
        0.1
    """

    name: str
    cost: float

    def __init__(self, name: str, cost: float) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"fidelity.tasks: a task needs a non-empty name (got {name!r})")
        if isinstance(cost, bool) or not isinstance(cost, int | float) or not 0 < cost <= 1:
            raise ValueError(f"fidelity.tasks.{name}.cost must lie in (0, 1] (got {cost!r})")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "cost", float(cost))


@dataclass(frozen=True)
class Fidelity:
    """The resource a trial trains for (epochs by default) and how it is scheduled.

    ``max`` (the attribute ``max_resource``) is a full training; a trial's cost is
    the resource it used divided by it. ``min`` (``min_resource``) is where the
    first rung judges a trial. The keywords stay ``min=``/``max=`` (as the sweep
    file's keys); the attributes ``min``/``max`` are deprecated names of
    ``min_resource``/``max_resource`` (they shadowed the builtins). ``metric`` names the reported metric the scheduler decides on
    (default: the first optimized metric).

    ``tasks`` (SigOpt's multitask form) replaces the continuous resource by a
    few named fractions of a full training, exactly one of cost 1; a trial
    then carries its task's cost as its fidelity (``max`` is 1, the scheduler
    is ``none``), and the training runs that fraction.

    Left out, ``scheduler`` is ``hedged`` (:class:`~tunehooks.schedulers.HedgedScheduler`:
    trials pause at the rungs and the best resume, the rungs promoting more when
    their ranking predicts less; chosen by leave-one-table-out on recorded learning
    curves, see docs/multifidelity.md).

    Example:
        >>> f = Fidelity(min=1, max=27, eta=3, scheduler="asha")
        >>> f.scheduler, f.min_resource, f.max_resource
        (<SchedulerKind.ASHA: 'asha'>, 1.0, 27.0)
        >>> Fidelity(min=1, max=27).scheduler
        <SchedulerKind.HEDGED: 'hedged'>
    """

    max_resource: float
    min_resource: float = 1.0
    eta: float = 3.0
    resource: str = "epoch"
    scheduler: SchedulerKind = SchedulerKind.HEDGED
    metric: str | None = None
    tasks: tuple[Task, ...] | None = None

    def __init__(
        self,
        *,
        max: float | None = None,
        min: float | None = None,
        eta: float = 3.0,
        resource: str = "epoch",
        scheduler: SchedulerKind | str | None = None,
        metric: str | None = None,
        tasks: Sequence[Task | Mapping[str, Any]] | None = None,
    ) -> None:
        task_list = _tasks(tasks)
        if task_list is not None:
            max = 1.0 if max is None else max
            min = builtins.min(t.cost for t in task_list) if min is None else min
            resource = "task" if resource == "epoch" else resource
            if scheduler is None:
                scheduler = SchedulerKind.NONE
            elif str(getattr(scheduler, "value", scheduler)).lower() != "none":
                raise ValueError(
                    "fidelity.scheduler: tasks are trained to completion; drop the scheduler "
                    f"or set it to 'none' (got {scheduler!r})"
                )
            if max != 1.0:
                raise ValueError(f"fidelity.max must be 1 with tasks (got {max!r}); drop it")
        if max is None:
            raise ValueError("fidelity.max is required (a full training, e.g. max=27 epochs)")
        min = 1.0 if min is None else min
        scheduler = SchedulerKind.HEDGED if scheduler is None else scheduler
        for name, v in (("min", min), ("max", max), ("eta", eta)):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"fidelity.{name} must be a finite number (got {v!r})")
        if not 0 < min <= max:
            raise ValueError(f"fidelity: need 0 < min <= max (got min={min}, max={max})")
        if eta <= 1:
            raise ValueError(f"fidelity.eta must be > 1 (got {eta}); 3 is a good default")
        try:
            kind = SchedulerKind(
                str(scheduler.value if isinstance(scheduler, SchedulerKind) else scheduler).lower()
            )
        except ValueError:
            choices = ", ".join(k.value for k in SchedulerKind)
            raise ValueError(
                f"fidelity.scheduler: expected one of {choices} (got {scheduler!r})"
            ) from None
        object.__setattr__(self, "max_resource", float(max))
        object.__setattr__(self, "min_resource", float(min))
        object.__setattr__(self, "eta", float(eta))
        object.__setattr__(self, "resource", str(resource))
        object.__setattr__(self, "scheduler", kind)
        object.__setattr__(self, "metric", metric)
        object.__setattr__(self, "tasks", task_list)

    @property
    @deprecated("Fidelity.max is deprecated: use Fidelity.max_resource", category=None)
    def max(self) -> float:
        """Deprecated name of :attr:`max_resource` (warns once)."""
        warn_renamed("Fidelity.max", "Fidelity.max_resource")
        return self.max_resource

    @property
    @deprecated("Fidelity.min is deprecated: use Fidelity.min_resource", category=None)
    def min(self) -> float:
        """Deprecated name of :attr:`min_resource` (warns once)."""
        warn_renamed("Fidelity.min", "Fidelity.min_resource")
        return self.min_resource

    def levels(self) -> list[float]:
        """The rung levels ``min * eta**k`` strictly below ``max``.

        Example:
            >>> Fidelity(min=1, max=30, eta=3).levels()
            [1.0, 3.0, 9.0, 27.0]
        """
        levels: list[float] = []
        r = self.min_resource
        while r < self.max_resource * (1 - 1e-9):
            levels.append(r)
            r *= self.eta
        return levels

    def decision_metric(self, metrics: Sequence[Metric]) -> Metric:
        """The metric schedulers and the multi-fidelity model follow: ``metric`` or else
        the first optimized metric."""
        if self.metric is not None:
            for m in metrics:
                if m.name == self.metric and m.goal is not None:
                    return m
            raise ValueError(
                f"fidelity.metric {self.metric!r} is not a metric with a goal; "
                f"choose one of {[m.name for m in metrics if m.goal is not None]}"
            )
        opt = optimized_metrics(metrics)
        if not opt:
            raise ValueError("metrics: a scheduler needs an optimized metric to decide on")
        return opt[0]

    def task(self, fidelity: float | None) -> Task | None:
        """The task whose cost is ``fidelity`` (``None``: the full task); ``None`` without tasks."""
        if self.tasks is None:
            return None
        f = self.max_resource if fidelity is None else fidelity
        return builtins.min(self.tasks, key=lambda t: abs(t.cost - f))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "min": self.min_resource,
            "max": self.max_resource,
            "eta": self.eta,
            "resource": self.resource,
            "scheduler": self.scheduler.value,
            "metric": self.metric,
        }
        if self.tasks is not None:
            data["tasks"] = [{"name": t.name, "cost": t.cost} for t in self.tasks]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fidelity:
        return cls(**dict(data))


def _tasks(tasks: Sequence[Task | Mapping[str, Any]] | None) -> tuple[Task, ...] | None:
    if tasks is None:
        return None
    out = tuple(t if isinstance(t, Task) else Task(t["name"], t["cost"]) for t in tasks)
    costs = [t.cost for t in out]
    if costs.count(1.0) != 1:
        raise ValueError(
            f"fidelity.tasks: exactly one task must cost 1 (the full training); got costs {costs}"
        )
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise ValueError(f"fidelity.tasks: task names must be unique (got {names})")
    if len(set(costs)) != len(costs):
        raise ValueError(f"fidelity.tasks: task costs must differ (got {costs})")
    return out
