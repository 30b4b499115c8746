"""Asynchronous successive halving (ASHA) in stop mode."""

from __future__ import annotations

from collections.abc import Sequence

from tunehooks.fidelity import Fidelity
from tunehooks.metrics import Metric
from tunehooks.schedulers._common import (
    crossed_rung,
    decision_metric,
    quantile,
    rung_between,
    rung_levels,
    score_at,
)
from tunehooks.schedulers.base import FirstRung, Scheduler
from tunehooks.trial import Decision, TrialRecord

__all__ = ["ASHAScheduler", "asha_decision"]


def asha_decision(
    trial: TrialRecord,
    peers: Sequence[TrialRecord],
    *,
    metric: Metric,
    levels: Sequence[float],
    eta: float,
) -> Decision:
    """The stop-mode ASHA rule, on ``trial`` against ``peers`` (the trials it competes with).

    A trial is judged once per rung, at its first report at or past the rung
    level: it continues when its value there is at least the ``1 - 1/eta``
    quantile of the values every trial recorded at that rung (itself included),
    so about the top ``1/eta`` go on. Nothing waits for a rung to fill: the
    first trial to reach a rung always continues.
    """
    level = crossed_rung(trial, levels)
    if level is None:
        return Decision.CONTINUE
    own = score_at(trial, metric, level)
    if own is None:
        return Decision.CONTINUE
    scores = [own]
    for t in peers:
        if t.id == trial.id:
            continue
        s = score_at(t, metric, level)
        if s is not None:
            scores.append(s)
    return Decision.CONTINUE if own >= quantile(scores, 1.0 - 1.0 / eta) else Decision.STOP


class ASHAScheduler(Scheduler):
    """Asynchronous successive halving, stop mode: no checkpoint is needed.

    Rungs lie at ``min * eta**k`` below ``max``. At each rung a trial continues
    when it is in the top ``1/eta`` of every trial that reached that rung so
    far, and stops (PRUNED, its curve kept) otherwise. Every trial starts with
    the full resource ``max``; decisions never wait for other trials.

    Example:
        >>> import tunehooks as th
        >>> from tunehooks.trial import Report
        >>> s = ASHAScheduler(th.Fidelity(min=1, max=9, eta=3), [th.Metric("acc", "maximize")])
        >>> s.levels
        [1.0, 3.0]
        >>> good = th.TrialRecord(1, 0, th.TrialState.COMPLETED, {}, reports=(Report(1, {"acc": 0.9}),))
        >>> bad = th.TrialRecord(2, 1, th.TrialState.RUNNING, {}, reports=(Report(1, {"acc": 0.2}),))
        >>> s.decide(bad, [good, bad])
        <Decision.STOP: 'STOP'>
    """

    def __init__(self, fidelity: Fidelity, metrics: Sequence[Metric], *, seed: int = 0) -> None:
        self.fidelity = fidelity
        self.metric = decision_metric(fidelity, metrics)
        self.eta = fidelity.eta
        self.levels = rung_levels(fidelity.min_resource, fidelity.max_resource, fidelity.eta)
        self.seed = int(seed)

    def decides(self, trial_number: int, step: float, previous_step: float | None) -> bool:
        """Whether a report at ``step`` is a decision point (a rung reached)."""
        return rung_between(previous_step, step, self.levels) is not None

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        return asha_decision(trial, history, metric=self.metric, levels=self.levels, eta=self.eta)

    def first_rung(self) -> FirstRung | None:
        """The first rung, where the top ``1/eta`` go on (``None`` without rungs)."""
        return FirstRung(self.levels[0], 1.0 / self.eta) if self.levels else None
