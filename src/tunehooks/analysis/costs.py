"""What a sweep cost and what it bought."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from tunehooks.analysis._data import (
    epochs_of,
    finished_in_order,
    gpu_hours_of,
    is_eligible,
    pick_metric,
)
from tunehooks.experiment import Experiment
from tunehooks.trial import TrialRecord, TrialState

__all__ = ["CostTable", "cost_table"]


@dataclass(frozen=True)
class CostTable:
    """Counts and costs of a sweep, and the cost per point of improvement.

    ``first`` is the value of the first design (the first eligible trial to
    finish, typically the enqueued baseline); ``improvement`` is how much the
    best beats it, in the metric's favourable direction. The ``*_per_point``
    costs divide the whole sweep's cost by ``improvement / point``; they are
    ``None`` when nothing improved.
    """

    metric: str
    goal: str
    trials: int
    completed: int
    pruned: int
    failed: int
    running: int
    queued: int
    epochs: float
    full_trainings: float
    gpu_hours: float
    first: float | None
    best: float | None
    improvement: float | None
    point: float
    trials_per_point: float | None
    epochs_per_point: float | None
    gpu_hours_per_point: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def rows(self) -> list[tuple[str, str]]:
        """(label, formatted value) pairs, for a table."""

        def f(v: float | None, fmt: str = ".4g") -> str:
            return "-" if v is None else format(v, fmt)

        return [
            ("trials started", str(self.trials)),
            ("completed / pruned / failed", f"{self.completed} / {self.pruned} / {self.failed}"),
            ("running / queued", f"{self.running} / {self.queued}"),
            ("epochs trained", f(self.epochs, ".0f")),
            ("full-training equivalents", f(self.full_trainings, ".2f")),
            ("GPU-hours", f(self.gpu_hours, ".3f")),
            (f"first design {self.metric}", f(self.first)),
            (f"best {self.metric}", f(self.best)),
            ("improvement", f(self.improvement)),
            (f"trials per {self.point:g} of {self.metric}", f(self.trials_per_point, ".3g")),
            (f"epochs per {self.point:g} of {self.metric}", f(self.epochs_per_point, ".3g")),
            (f"GPU-hours per {self.point:g} of {self.metric}", f(self.gpu_hours_per_point, ".3g")),
        ]


def cost_table(
    exp: Experiment,
    *,
    metric: str | None = None,
    point: float = 0.01,
    trials: Sequence[TrialRecord] | None = None,
    gpus_per_trial: float = 1.0,
) -> CostTable:
    """The cost table of ``exp`` (``point``: the size of one point of ``metric``).

    Epochs are the last reported step of each trial; GPU-hours are each
    finished trial's wall-clock time times ``gpus_per_trial``.

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-cost", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("acc", goal="maximize")], budget=th.Budget(trials=3),
        ...     storage="sqlite://", method="random")
        >>> for t, acc in zip(exp.trials(), [0.80, 0.85, 0.90]):
        ...     for epoch in (1, 2):
        ...         _ = t.report(epoch, {"acc": acc})
        ...     _ = t.complete()
        >>> table = cost_table(exp)
        >>> round(table.improvement, 2), table.epochs, round(table.epochs_per_point, 2)
        (0.1, 6.0, 0.6)
    """
    if not point > 0 or not math.isfinite(point):
        raise ValueError(f"point must be a positive number (got {point!r})")
    m = pick_metric(exp.metrics, metric)
    history = exp.get_trials() if trials is None else trials
    counts = dict.fromkeys(TrialState, 0)
    for t in history:
        counts[t.state] += 1
    started = [t for t in history if t.state is not TrialState.QUEUED]
    epochs = sum(epochs_of(t) for t in started)
    gpu_hours = sum(gpu_hours_of(t, gpus_per_trial) for t in started)
    full = sum(exp.trial_cost(t) for t in started)
    first: float | None = None
    best: float | None = None
    for t in finished_in_order(history):
        v = t.value(m.name)
        if v is None or not math.isfinite(v) or not is_eligible(t, exp.metrics, exp.fidelity):
            continue
        if first is None:
            first = v
        if best is None or m.is_better(v, best):
            best = v
    improvement = None if first is None or best is None else m.sign * (best - first)
    points = None if not improvement else improvement / point
    return CostTable(
        metric=m.name,
        goal=m.goal.value if m.goal is not None else "maximize",
        trials=len(started),
        completed=counts[TrialState.COMPLETED],
        pruned=counts[TrialState.PRUNED],
        failed=counts[TrialState.FAILED],
        running=counts[TrialState.RUNNING],
        queued=counts[TrialState.QUEUED],
        epochs=epochs,
        full_trainings=full,
        gpu_hours=gpu_hours,
        first=first,
        best=best,
        improvement=improvement,
        point=point,
        trials_per_point=None if not points else len(started) / points,
        epochs_per_point=None if not points else epochs / points,
        gpu_hours_per_point=None if not points else gpu_hours / points,
    )
