"""The non-dominated set of two metrics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tunehooks.analysis._data import is_eligible, pick_metric
from tunehooks.experiment import Experiment
from tunehooks.metrics import Metric, Strategy
from tunehooks.trial import TrialRecord

__all__ = ["ParetoResult", "non_dominated", "pareto_front"]


def non_dominated(points: Sequence[Sequence[float]], signs: Sequence[float]) -> list[int]:
    """Indices of the points no other point dominates (``signs``: +1 maximize, -1 minimize).

    Duplicates of a non-dominated point are all kept.

    Example:
        >>> non_dominated([(1, 5), (2, 4), (0, 0), (2, 5)], [1, 1])
        [3]
        >>> non_dominated([(1, 5), (2, 4), (0, 0)], [1, -1])
        [1, 2]
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


@dataclass(frozen=True)
class ParetoResult:
    """Eligible trials' points on two metrics and the non-dominated ones among them.

    ``front`` is sorted by the first metric; ``others`` are the dominated
    eligible trials.
    """

    metrics: tuple[Metric, Metric]
    front: list[TrialRecord]
    others: list[TrialRecord]

    def points(self, trials: Sequence[TrialRecord]) -> list[tuple[float, float]]:
        a, b = self.metrics
        return [(float(t.values[a.name]), float(t.values[b.name])) for t in trials]


def pareto_front(
    exp: Experiment,
    *,
    metrics: Sequence[str] | None = None,
    trials: Sequence[TrialRecord] | None = None,
) -> ParetoResult:
    """The Pareto front of two metrics (default: the two optimized ones, or the optimized one
    and the first constraint) over COMPLETED, full-fidelity trials meeting every constraint.

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-pareto", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("acc", goal="maximize"), th.Metric("ms", goal="minimize")],
        ...     budget=th.Budget(trials=3), storage="sqlite://", method="random")
        >>> for t, (a, ms) in zip(exp.trials(), [(0.9, 30), (0.8, 10), (0.7, 20)]):
        ...     _ = t.complete({"acc": a, "ms": ms})
        >>> [t.number for t in pareto_front(exp).front]
        [1, 0]
    """
    if metrics is None:
        chosen = [m for m in exp.metrics if m.strategy is Strategy.OPTIMIZE]
        chosen += [m for m in exp.metrics if m.strategy is Strategy.CONSTRAINT]
        if len(chosen) < 2:
            raise ValueError(
                "pareto: the experiment has one metric with a goal; name two with metrics=[a, b]"
            )
        pair = (chosen[0], chosen[1])
    else:
        if len(metrics) != 2:
            raise ValueError(f"metrics: name exactly two metrics (got {list(metrics)})")
        pair = (pick_metric(exp.metrics, metrics[0]), pick_metric(exp.metrics, metrics[1]))
    history = exp.get_trials(with_reports=False) if trials is None else trials
    pts = [
        t
        for t in history
        if is_eligible(t, exp.metrics, exp.fidelity)
        and all(m.name in t.values and math.isfinite(float(t.values[m.name])) for m in pair)
    ]
    a, b = pair
    idx = set(non_dominated([(t.values[a.name], t.values[b.name]) for t in pts], [a.sign, b.sign]))
    front = sorted((t for i, t in enumerate(pts) if i in idx), key=lambda t: t.values[a.name])
    others = [t for i, t in enumerate(pts) if i not in idx]
    return ParetoResult(pair, front, others)
