"""The non-dominated set of two or more metrics, its hypervolume and the hypervolume trace."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tunehooks.analysis._data import is_eligible, pick_metric
from tunehooks.experiment import Experiment
from tunehooks.metrics import Metric, Strategy
from tunehooks.trial import TrialRecord

__all__ = [
    "HypervolumeTrace",
    "ParetoResult",
    "hypervolume",
    "hypervolume_trace",
    "non_dominated",
    "pareto_front",
]


def non_dominated(points: Sequence[Sequence[float]], signs: Sequence[float]) -> list[int]:
    """Indices of the points no other point dominates (``signs``: +1 maximize, -1 minimize).

    Any number of metrics; duplicates of a non-dominated point are all kept.

    Example:
        >>> non_dominated([(1, 5), (2, 4), (0, 0), (2, 5)], [1, 1])
        [3]
        >>> non_dominated([(1, 5), (2, 4), (0, 0)], [1, -1])
        [1, 2]
        >>> non_dominated([(1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0)], [1, 1, 1])
        [0, 1, 2]
    """
    ys = [[s * float(v) for s, v in zip(signs, p, strict=True)] for p in points]
    front = []
    for i, y in enumerate(ys):
        dominated = any(
            all(a >= b for a, b in zip(z, y, strict=True))
            and any(a > b for a, b in zip(z, y, strict=True))
            for k, z in enumerate(ys)
            if k != i
        )
        if not dominated:
            front.append(i)
    return front


def _hv_max(points: list[list[float]], ref: list[float]) -> float:
    """Hypervolume dominated by ``points`` (maximized, each better than ``ref`` everywhere)
    and bounded by ``ref``: slices along the last metric, recursively (exact; fine for
    the fronts of a tuning run, a few hundred points)."""
    if not points:
        return 0.0
    if len(ref) == 1:
        return max(p[0] for p in points) - ref[0]
    if len(ref) == 2:
        vol, top = 0.0, ref[1]
        for x, y in sorted(points, key=lambda p: (-p[0], -p[1])):
            if y > top:
                vol += (x - ref[0]) * (y - top)
                top = y
        return vol
    pts = sorted(points, key=lambda p: -p[-1])
    vol = 0.0
    for i, p in enumerate(pts):
        lower = pts[i + 1][-1] if i + 1 < len(pts) else ref[-1]
        depth = p[-1] - lower
        if depth > 0:
            head = [q[:-1] for q in pts[: i + 1]]
            keep = non_dominated(head, [1.0] * len(ref[:-1]))
            vol += depth * _hv_max([head[j] for j in keep], ref[:-1])
    return vol


def hypervolume(
    points: Sequence[Sequence[float]], ref: Sequence[float], signs: Sequence[float]
) -> float:
    """The volume the points dominate up to the reference point ``ref``, any number of metrics.

    ``signs``: +1 for a maximized metric, -1 for a minimized one; ``ref`` is a
    point worse than the interesting ones in every metric (a point not better
    than ``ref`` in every metric adds nothing).

    Example:
        >>> hypervolume([(1.0, 2.0), (2.0, 1.0)], ref=(3.0, 3.0), signs=(-1, -1))
        3.0
        >>> hypervolume([(1, 1, 1)], ref=(0, 0, 0), signs=(1, 1, 1))
        1.0
    """
    s = [float(v) for v in signs]
    r = [si * float(v) for si, v in zip(s, ref, strict=True)]
    pts = [[si * float(v) for si, v in zip(s, p, strict=True)] for p in points]
    pts = [p for p in pts if all(math.isfinite(v) and v > rv for v, rv in zip(p, r, strict=True))]
    keep = non_dominated(pts, [1.0] * len(r))
    return _hv_max([pts[i] for i in keep], r)


@dataclass(frozen=True)
class ParetoResult:
    """Eligible trials' points on two or more metrics and the non-dominated ones among them.

    ``front`` is sorted by the first metric; ``others`` are the dominated
    eligible trials.

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-pareto-result", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("acc", goal="maximize"), th.Metric("ms", goal="minimize")],
        ...     budget=th.Budget(trials=3), storage="sqlite://", method="random")
        >>> for t, (a, ms) in zip(exp.ask_loop(), [(0.9, 30), (0.8, 40), (0.7, 20)]):
        ...     _ = t.complete({"acc": a, "ms": ms})
        >>> result = pareto_front(exp)
        >>> result.points(result.front), [t.number for t in result.others]
        ([(0.7, 20.0), (0.9, 30.0)], [1])
    """

    metrics: tuple[Metric, ...]
    front: list[TrialRecord]
    others: list[TrialRecord]

    def points(self, trials: Sequence[TrialRecord]) -> list[tuple[float, ...]]:
        return [tuple(float(t.values[m.name]) for m in self.metrics) for t in trials]


def _chosen_metrics(exp: Experiment, metrics: Sequence[str] | None) -> tuple[Metric, ...]:
    if metrics is None:
        chosen = [m for m in exp.metrics if m.strategy is Strategy.OPTIMIZE]
        if len(chosen) < 2:
            chosen += [m for m in exp.metrics if m.strategy is Strategy.CONSTRAINT][:1]
        if len(chosen) < 2:
            raise ValueError(
                "pareto: the experiment has one metric with a goal; name two or more "
                "with metrics=[a, b, ...]"
            )
        return tuple(chosen)
    if len(metrics) < 2 or len(set(metrics)) != len(metrics):
        raise ValueError(f"metrics: name two or more distinct metrics (got {list(metrics)})")
    return tuple(pick_metric(exp.metrics, name) for name in metrics)


def _eligible_points(
    exp: Experiment, chosen: Sequence[Metric], trials: Sequence[TrialRecord] | None
) -> list[TrialRecord]:
    history = exp.get_trials(with_reports=False) if trials is None else trials
    return [
        t
        for t in history
        if is_eligible(t, exp.metrics, exp.fidelity)
        and all(m.name in t.values and math.isfinite(float(t.values[m.name])) for m in chosen)
    ]


def pareto_front(
    exp: Experiment,
    *,
    metrics: Sequence[str] | None = None,
    trials: Sequence[TrialRecord] | None = None,
) -> ParetoResult:
    """The Pareto front of two or more metrics over COMPLETED, full-fidelity trials meeting
    every constraint (default metrics: every optimized one, or the optimized one and the
    first constraint).

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-pareto", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("acc", goal="maximize"), th.Metric("ms", goal="minimize")],
        ...     budget=th.Budget(trials=3), storage="sqlite://", method="random")
        >>> for t, (a, ms) in zip(exp.ask_loop(), [(0.9, 30), (0.8, 10), (0.7, 20)]):
        ...     _ = t.complete({"acc": a, "ms": ms})
        >>> [t.number for t in pareto_front(exp).front]
        [1, 0]
    """
    chosen = _chosen_metrics(exp, metrics)
    pts = _eligible_points(exp, chosen, trials)
    values = [[t.values[m.name] for m in chosen] for t in pts]
    idx = set(non_dominated(values, [m.sign for m in chosen]))
    first = chosen[0].name
    front = sorted((t for i, t in enumerate(pts) if i in idx), key=lambda t: t.values[first])
    others = [t for i, t in enumerate(pts) if i not in idx]
    return ParetoResult(chosen, front, others)


@dataclass(frozen=True)
class HypervolumeTrace:
    """The hypervolume of the front after each eligible trial, in trial-number order.

    ``numbers[i]`` is a trial number, ``values[i]`` the hypervolume of the
    front of the eligible trials up to it; ``ref`` the reference point (in the
    metrics' own units and directions).

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-hv-trace", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("acc", goal="maximize"), th.Metric("ms", goal="minimize")],
        ...     budget=th.Budget(trials=2), storage="sqlite://", method="random")
        >>> for t, (a, ms) in zip(exp.ask_loop(), [(0.5, 30), (0.9, 10)]):
        ...     _ = t.complete({"acc": a, "ms": ms})
        >>> trace = hypervolume_trace(exp, ref=(0.0, 50.0))
        >>> trace.numbers, [round(v, 1) for v in trace.values]
        ([0, 1], [10.0, 36.0])
    """

    metrics: tuple[Metric, ...]
    ref: tuple[float, ...]
    numbers: list[int]
    values: list[float]


def hypervolume_trace(
    exp: Experiment,
    *,
    metrics: Sequence[str] | None = None,
    ref: Sequence[float] | None = None,
    trials: Sequence[TrialRecord] | None = None,
) -> HypervolumeTrace:
    """How the hypervolume of the Pareto front grew, for two or more metrics.

    ``ref`` (one value per metric) defaults to the worst value of each metric
    over the eligible trials, moved 10% of its range further out, so the
    extreme points of the front count too. Pass a fixed ``ref`` to compare runs.

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-hv", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric(n, goal="minimize") for n in ("a", "b", "c")],
        ...     budget=th.Budget(trials=3), storage="sqlite://", method="random")
        >>> for t, v in zip(exp.ask_loop(), [(1, 1, 1), (0, 0, 2), (0, 0, 0)]):
        ...     _ = t.complete(dict(zip("abc", v)))
        >>> tr = hypervolume_trace(exp, ref=(2, 2, 3))
        >>> tr.values
        [2.0, 5.0, 12.0]
    """
    chosen = _chosen_metrics(exp, metrics)
    pts = sorted(_eligible_points(exp, chosen, trials), key=lambda t: t.number)
    signs = [m.sign for m in chosen]
    values = [[float(t.values[m.name]) for m in chosen] for t in pts]
    if ref is None:
        if values:
            cols = list(zip(*values, strict=True))
            worst = [min(s * v for v in c) for s, c in zip(signs, cols, strict=True)]
            best = [max(s * v for v in c) for s, c in zip(signs, cols, strict=True)]
            r = [
                s * (w - 0.1 * ((b - w) or 1.0)) for s, w, b in zip(signs, worst, best, strict=True)
            ]
        else:
            r = [0.0] * len(chosen)
    else:
        if len(ref) != len(chosen):
            raise ValueError(f"ref: give one value per metric {[m.name for m in chosen]}")
        r = [float(v) for v in ref]
    out: list[float] = []
    for i in range(len(values)):
        out.append(hypervolume(values[: i + 1], r, signs))
    return HypervolumeTrace(chosen, tuple(r), [t.number for t in pts], out)
