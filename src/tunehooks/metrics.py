"""Metrics (what a trial is judged by) and budgets (how many trials to run)."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Budget", "Goal", "Metric", "Strategy", "optimized_metrics", "validate_metrics"]


class Goal(str, enum.Enum):
    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


class Strategy(str, enum.Enum):
    """What the optimizer does with a metric."""

    OPTIMIZE = "optimize"
    CONSTRAINT = "constraint"
    STORE = "store"


def _enum_value(enum_cls: type[enum.Enum], value: Any, field: str) -> Any:
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(str(value).lower())
    except ValueError:
        choices = ", ".join(repr(m.value) for m in enum_cls)
        raise ValueError(f"{field}: expected one of {choices} (got {value!r})") from None


@dataclass(frozen=True)
class Metric:
    """A named metric with an explicit goal.

    ``strategy="constraint"`` needs a ``threshold``: a maximized constraint is
    met when its value is at least the threshold, a minimized one when it is at
    most the threshold. ``strategy="store"`` only records the value.

    Example:
        >>> Metric("val_acc", goal="maximize").goal
        <Goal.MAXIMIZE: 'maximize'>
        >>> Metric("latency_ms", goal="minimize", strategy="constraint", threshold=25).is_met(20)
        True
    """

    name: str
    goal: Goal | None = None
    strategy: Strategy = Strategy.OPTIMIZE
    threshold: float | None = None

    def __init__(
        self,
        name: str,
        goal: Goal | str | None = None,
        *,
        strategy: Strategy | str = Strategy.OPTIMIZE,
        threshold: float | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"metric name must be a non-empty string (got {name!r})")
        strat = _enum_value(Strategy, strategy, f"metrics.{name}.strategy")
        if goal is None and strat is not Strategy.STORE:
            raise ValueError(
                f"metrics.{name}.goal is required: add goal='maximize' or goal='minimize'"
            )
        g = None if goal is None else _enum_value(Goal, goal, f"metrics.{name}.goal")
        if strat is Strategy.CONSTRAINT:
            if threshold is None:
                raise ValueError(
                    f"metrics.{name}: a constraint metric needs a threshold (e.g. threshold=25)"
                )
            if not math.isfinite(float(threshold)):
                raise ValueError(f"metrics.{name}.threshold must be finite (got {threshold!r})")
        elif threshold is not None:
            raise ValueError(
                f"metrics.{name}: threshold applies only to strategy='constraint' "
                f"(got strategy={strat.value!r})"
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "goal", g)
        object.__setattr__(self, "strategy", strat)
        object.__setattr__(self, "threshold", None if threshold is None else float(threshold))

    @property
    def sign(self) -> float:
        """+1 for maximize, -1 for minimize: ``sign * value`` is to be maximized."""
        return 1.0 if self.goal is Goal.MAXIMIZE else -1.0

    def is_better(self, a: float, b: float) -> bool:
        """True when ``a`` is strictly better than ``b`` for this metric."""
        return a > b if self.goal is Goal.MAXIMIZE else a < b

    def is_met(self, value: float | None) -> bool:
        """Whether a constraint metric's value satisfies its threshold."""
        if self.strategy is not Strategy.CONSTRAINT:
            return True
        if value is None or not math.isfinite(value):
            return False
        threshold = self.threshold if self.threshold is not None else 0.0
        if self.goal is Goal.MAXIMIZE:
            return value >= threshold
        return value <= threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "goal": None if self.goal is None else self.goal.value,
            "strategy": self.strategy.value,
            "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metric:
        return cls(
            data["name"],
            data.get("goal"),
            strategy=data.get("strategy", "optimize"),
            threshold=data.get("threshold"),
        )


def optimized_metrics(metrics: Sequence[Metric]) -> list[Metric]:
    return [m for m in metrics if m.strategy is Strategy.OPTIMIZE]


def validate_metrics(metrics: Sequence[Metric]) -> list[Metric]:
    """Check a metric list: at least one optimized metric, unique names."""
    metrics = list(metrics)
    if not metrics:
        raise ValueError("metrics: give at least one Metric(name, goal=...)")
    for m in metrics:
        if not isinstance(m, Metric):
            raise TypeError(f"metrics: expected Metric objects, got {type(m).__name__}")
    names = [m.name for m in metrics]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"metrics: duplicate names {dupes}")
    n_opt = len(optimized_metrics(metrics))
    if n_opt == 0:
        raise ValueError("metrics: at least one metric needs strategy='optimize'")
    return metrics


@dataclass(frozen=True)
class Budget:
    """How much tuning to do.

    ``trials`` counts every trial started (failed ones included); ``cost``
    counts full-fidelity-training equivalents (a trial that trained 3 of 27
    epochs costs 1/9). Tuning stops when either is spent.

    Example:
        >>> Budget(trials=40).trials
        40
    """

    trials: int | None = None
    cost: float | None = None

    def __init__(self, trials: int | None = None, *, cost: float | None = None) -> None:
        if trials is not None and (isinstance(trials, bool) or int(trials) != trials or trials < 1):
            raise ValueError(f"budget.trials must be a positive integer (got {trials!r})")
        if cost is not None and not (float(cost) > 0 and math.isfinite(float(cost))):
            raise ValueError(f"budget.cost must be a positive number (got {cost!r})")
        object.__setattr__(self, "trials", None if trials is None else int(trials))
        object.__setattr__(self, "cost", None if cost is None else float(cost))

    def to_dict(self) -> dict[str, Any]:
        return {"trials": self.trials, "cost": self.cost}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Budget:
        data = data or {}
        return cls(data.get("trials"), cost=data.get("cost"))
