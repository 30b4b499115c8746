"""Helpers shared by the schedulers: the decision metric, rung levels, curve lookups."""

from __future__ import annotations

import math
from collections.abc import Sequence

from tunehooks.fidelity import Fidelity
from tunehooks.metrics import Metric
from tunehooks.trial import TrialRecord, TrialState

__all__ = [
    "best_paused",
    "crossed_rung",
    "decision_metric",
    "quantile",
    "rung_levels",
    "score_at",
]


def decision_metric(fidelity: Fidelity, metrics: Sequence[Metric]) -> Metric:
    """``fidelity.metric`` or else the first optimized metric (with its goal)."""
    return fidelity.decision_metric(metrics)


def rung_levels(r_min: float, r_max: float, eta: float) -> list[float]:
    """``r_min * eta**k`` for every k with a level strictly below ``r_max``."""
    return Fidelity(min=r_min, max=r_max, eta=eta).levels()


def score_at(trial: TrialRecord, metric: Metric, level: float) -> float | None:
    """``sign * value`` of ``metric`` at the first report with step >= ``level``.

    That is the report at which the trial's decision at ``level`` was taken,
    so every trial is judged at the same point of its curve.
    """
    for rep in trial.reports:
        if rep.step >= level - 1e-9 and metric.name in rep.metrics:
            v = float(rep.metrics[metric.name])
            return metric.sign * v if math.isfinite(v) else -math.inf
    return None


def crossed_rung(trial: TrialRecord, levels: Sequence[float]) -> float | None:
    """The rung level the trial's newest report reached first (``None``: no new rung)."""
    if not trial.reports:
        return None
    step = trial.reports[-1].step
    prev = trial.reports[-2].step if len(trial.reports) > 1 else None
    return rung_between(prev, step, levels)


def rung_between(previous_step: float | None, step: float, levels: Sequence[float]) -> float | None:
    """The highest rung level in ``(previous_step, step]`` (``None``: no rung crossed).

    Example:
        >>> rung_between(2, 3, [1, 3, 9]), rung_between(3, 8, [1, 3, 9])
        (3, None)
    """
    prev = -math.inf if previous_step is None else previous_step
    crossed = [lv for lv in levels if prev < lv - 1e-9 and step >= lv - 1e-9]
    return crossed[-1] if crossed else None


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of ``values`` (``numpy.quantile``'s default)."""
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def best_paused(history: Sequence[TrialRecord], metric: Metric) -> TrialRecord | None:
    """The PAUSED trial furthest along, the best at its newest report among equals
    (``None``: none is paused): what to resume when nothing new can start and the
    promotion rule passes nothing more on (a finite space tried in full).

    Example:
        >>> from tunehooks.trial import Report
        >>> m = Metric("acc", "maximize")
        >>> t = [TrialRecord(i, i, TrialState.PAUSED, {}, reports=(Report(s, {"acc": a}),))
        ...      for i, (s, a) in enumerate([(3, 0.9), (9, 0.5), (9, 0.7)])]
        >>> best_paused(t, m).number
        2
    """
    paused = [t for t in history if t.state is TrialState.PAUSED]
    if not paused:
        return None

    def key(t: TrialRecord) -> tuple[float, float, int]:
        v = t.last_reported(metric.name)
        value = metric.sign * v if v is not None and math.isfinite(v) else -math.inf
        return (t.last_step or 0.0, value, -t.number)

    return max(paused, key=key)
