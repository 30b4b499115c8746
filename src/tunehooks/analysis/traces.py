"""Best-so-far traces: the best eligible result against trials run or cost spent.

A trace walks the finished trials in the order they finished. Every finished
trial (pruned and failed ones included) adds to the x axis, the resource it
used; only COMPLETED, full-fidelity trials that meet every constraint can move
the best value.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tunehooks.analysis._data import (
    epochs_of,
    finished_in_order,
    gpu_hours_of,
    is_eligible,
    pick_metric,
)
from tunehooks.experiment import Experiment
from tunehooks.trial import TrialRecord

__all__ = ["Axis", "CompareBand", "Trace", "best_so_far", "compare_traces"]


class Axis(str, enum.Enum):
    """What the x axis of a trace counts."""

    TRIALS = "trials"
    COST = "cost"  # full-training equivalents (Experiment.trial_cost)
    EPOCHS = "epochs"
    GPU_HOURS = "gpu_hours"  # trial-hours times the GPUs each trial used (given by the user)
    HOURS = "hours"  # wall-clock hours the trials ran, added up

    @property
    def label(self) -> str:
        return {
            Axis.TRIALS: "trials finished",
            Axis.COST: "cost (full trainings)",
            Axis.EPOCHS: "epochs trained",
            Axis.GPU_HOURS: "GPU-hours",
            Axis.HOURS: "trial-hours (wall clock)",
        }[self]


def _axis(axis: Axis | str) -> Axis:
    if isinstance(axis, Axis):
        return axis
    try:
        return Axis(str(axis).lower().replace("-", "_"))
    except ValueError:
        choices = ", ".join(a.value for a in Axis)
        raise ValueError(f"axis: expected one of {choices} (got {axis!r})") from None


@dataclass(frozen=True)
class Trace:
    """A best-so-far trace.

    ``x[i]`` is the resource used once ``numbers[i]`` finished, ``value[i]``
    that trial's own final value (``None`` when it has none, e.g. it failed or
    was pruned) and ``best[i]`` the best eligible value so far (``None``
    before the first one).

    Example:
        >>> t = Trace("acc", "maximize", Axis.TRIALS, [1.0, 2.0], [0, 1], [0.5, 0.4],
        ...           [0.5, 0.5], [True, True])
        >>> t.final_best
        0.5
    """

    metric: str
    goal: str
    axis: Axis
    x: list[float]
    numbers: list[int]
    value: list[float | None]
    best: list[float | None]
    eligible: list[bool]

    @property
    def final_best(self) -> float | None:
        return self.best[-1] if self.best else None

    def best_at(self, x: float) -> float | None:
        """The best value once ``x`` of the resource was spent (step function)."""
        out: float | None = None
        for xi, bi in zip(self.x, self.best, strict=True):
            if xi > x:
                break
            out = bi
        return out


def resource(
    t: TrialRecord, axis: Axis, exp: Experiment, *, gpus_per_trial: float | None = None
) -> float:
    """How much of ``axis`` one trial used."""
    if axis is Axis.TRIALS:
        return 1.0
    if axis is Axis.COST:
        return exp.trial_cost(t)
    if axis is Axis.EPOCHS:
        return epochs_of(t)
    if axis is Axis.HOURS:
        return gpu_hours_of(t, 1.0)
    return gpu_hours_of(t, check_gpus(axis, gpus_per_trial))


def check_gpus(axis: Axis, gpus_per_trial: float | None) -> float:
    """``gpus_per_trial``, which GPU-hours need: nothing in the database says GPUs were used."""
    if gpus_per_trial is None or not gpus_per_trial > 0:
        raise ValueError(
            f"gpus_per_trial: GPU-hours need the number of GPUs each trial used (got "
            f"{gpus_per_trial!r}); give it (--gpus-per-trial N) or use the axis 'hours'"
        )
    return float(gpus_per_trial)


def best_so_far(
    exp: Experiment,
    *,
    metric: str | None = None,
    axis: Axis | str = Axis.TRIALS,
    trials: Sequence[TrialRecord] | None = None,
    gpus_per_trial: float | None = None,
) -> Trace:
    """The best-so-far trace of ``metric`` (default: the first optimized metric).

    ``trials``: the history, when already read (default: read it now).

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-trace", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("y", goal="minimize")], budget=th.Budget(trials=3),
        ...     storage="sqlite://", method="random")
        >>> for t, y in zip(exp.ask_loop(), [3.0, 1.0, 2.0]):
        ...     _ = t.complete({"y": y})
        >>> best_so_far(exp).best
        [3.0, 1.0, 1.0]
    """
    ax = _axis(axis)
    if ax is Axis.GPU_HOURS:
        check_gpus(ax, gpus_per_trial)
    m = pick_metric(exp.metrics, metric)
    history = exp.get_trials() if trials is None else trials
    xs: list[float] = []
    numbers: list[int] = []
    values: list[float | None] = []
    best: list[float | None] = []
    elig: list[bool] = []
    total = 0.0
    current: float | None = None
    for t in finished_in_order(history):
        total += resource(t, ax, exp, gpus_per_trial=gpus_per_trial)
        v = t.value(m.name)
        ok = v is not None and math.isfinite(v) and is_eligible(t, exp.metrics, exp.fidelity)
        if ok and v is not None and (current is None or m.is_better(v, current)):
            current = v
        xs.append(total)
        numbers.append(t.number)
        values.append(v)
        best.append(current)
        elig.append(ok)
    goal = m.goal.value if m.goal is not None else "maximize"
    return Trace(m.name, goal, ax, xs, numbers, values, best, elig)


@dataclass(frozen=True)
class CompareBand:
    """Median and interquartile range of best-so-far over repeated runs, on a common grid.

    ``n[i]`` is how many runs had a best value at ``x[i]``; where it is 0 the
    statistics are NaN.

    Example:
        >>> band = CompareBand("gp", Axis.TRIALS, "loss", x=[1.0, 2.0], median=[0.5, 0.2],
        ...     q25=[0.4, 0.1], q75=[0.6, 0.3], n=[3, 3], runs=3)
        >>> band.median[-1], band.q75[-1] - band.q25[-1]  # the last median and its spread
        (0.2, 0.19999999999999998)
    """

    label: str
    axis: Axis
    metric: str
    x: list[float]
    median: list[float]
    q25: list[float]
    q75: list[float]
    n: list[int]
    runs: int


def compare_traces(
    groups: Mapping[str, Sequence[Experiment]],
    *,
    metric: str | None = None,
    axis: Axis | str = Axis.TRIALS,
    points: int = 100,
    gpus_per_trial: float | None = None,
) -> list[CompareBand]:
    """Summarize best-so-far over repeated runs, one band per labelled group.

    Every run's trace is read as a step function on a grid shared by all
    groups (from 0 to the largest resource any run used; whole trials for
    ``axis="trials"``).

    Example:
        >>> import tunehooks as th
        >>> runs = []
        >>> for seed in range(3):
        ...     exp = th.Experiment.create(f"doc-cmp-{seed}", th.SearchSpace({"x": th.Float(0, 1)}),
        ...         metrics=[th.Metric("y", goal="minimize")], budget=th.Budget(trials=4),
        ...         storage="sqlite://", method="random", seed=seed)
        ...     for t in exp.ask_loop():
        ...         _ = t.complete({"y": t.params["x"]})
        ...     runs.append(exp)
        >>> band = compare_traces({"random": runs})[0]
        >>> band.runs, band.x[-1], band.n[-1]
        (3, 4.0, 3)
    """
    if not groups:
        raise ValueError("groups: give at least one label -> experiments")
    ax = _axis(axis)
    traces: dict[str, list[Trace]] = {}
    for label, runs in groups.items():
        if not runs:
            raise ValueError(f"groups[{label!r}]: no experiments")
        traces[label] = [
            best_so_far(e, metric=metric, axis=ax, gpus_per_trial=gpus_per_trial) for e in runs
        ]
    top = max((tr.x[-1] for ts in traces.values() for tr in ts if tr.x), default=0.0)
    if ax is Axis.TRIALS:
        grid = np.arange(1.0, max(top, 1.0) + 1.0)
    else:
        grid = np.linspace(0.0, top if top > 0 else 1.0, points)
    bands = []
    for label, ts in traces.items():
        mat = np.full((len(ts), grid.size), np.nan)
        for i, tr in enumerate(ts):
            if not tr.x:
                continue
            best = np.array([np.nan if b is None else b for b in tr.best])
            idx = np.searchsorted(np.asarray(tr.x), grid, side="right") - 1
            mat[i, idx >= 0] = best[idx[idx >= 0]]
        counts = np.sum(~np.isnan(mat), axis=0)
        med = np.full(grid.size, np.nan)
        q25 = np.full(grid.size, np.nan)
        q75 = np.full(grid.size, np.nan)
        has = counts > 0
        if has.any():
            med[has] = np.nanmedian(mat[:, has], axis=0)
            q25[has] = np.nanpercentile(mat[:, has], 25, axis=0)
            q75[has] = np.nanpercentile(mat[:, has], 75, axis=0)
        bands.append(
            CompareBand(
                label,
                ax,
                ts[0].metric,
                [float(g) for g in grid],
                med.tolist(),
                q25.tolist(),
                q75.tolist(),
                [int(c) for c in counts],
                len(ts),
            )
        )
    return bands
