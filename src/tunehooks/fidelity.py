"""Fidelity settings: how partial trainings are measured and scheduled."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Fidelity", "SchedulerKind"]


class SchedulerKind(str, enum.Enum):
    """Early-stopping rules selectable by name (``fidelity.scheduler`` in a sweep file)."""

    NONE = "none"
    MEDIAN = "median"
    ASHA = "asha"
    HYPERBAND = "hyperband"


@dataclass(frozen=True)
class Fidelity:
    """The resource a trial trains for (epochs by default) and how it is scheduled.

    ``max`` is a full training; a trial's cost is the resource it used divided
    by ``max``. ``metric`` names the reported metric the scheduler decides on
    (default: the first optimized metric).

    Example:
        >>> Fidelity(min=1, max=27, eta=3, scheduler="asha").scheduler
        <SchedulerKind.ASHA: 'asha'>
    """

    max: float
    min: float = 1.0
    eta: float = 3.0
    resource: str = "epoch"
    scheduler: SchedulerKind = SchedulerKind.ASHA
    metric: str | None = None

    def __init__(
        self,
        *,
        max: float,
        min: float = 1.0,
        eta: float = 3.0,
        resource: str = "epoch",
        scheduler: SchedulerKind | str = SchedulerKind.ASHA,
        metric: str | None = None,
    ) -> None:
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
        object.__setattr__(self, "max", float(max))
        object.__setattr__(self, "min", float(min))
        object.__setattr__(self, "eta", float(eta))
        object.__setattr__(self, "resource", str(resource))
        object.__setattr__(self, "scheduler", kind)
        object.__setattr__(self, "metric", metric)

    def to_dict(self) -> dict[str, Any]:
        return {
            "min": self.min,
            "max": self.max,
            "eta": self.eta,
            "resource": self.resource,
            "scheduler": self.scheduler.value,
            "metric": self.metric,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fidelity:
        return cls(**dict(data))
