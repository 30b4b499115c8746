"""The median stopping rule (Golovin et al. 2017, Google Vizier)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from tunehooks.fidelity import Fidelity
from tunehooks.metrics import Metric
from tunehooks.schedulers._common import decision_metric
from tunehooks.schedulers.base import Scheduler
from tunehooks.trial import Decision, TrialRecord

__all__ = ["MedianScheduler"]


class MedianScheduler(Scheduler):
    """Stop a trial whose best value so far is worse than the median of the others.

    At a report at step ``s >= fidelity.min``, the trial's best value up to
    ``s`` is compared with the median, over the other trials that reached
    step ``s``, of their running averages up to ``s``; worse stops the trial.
    With fewer than ``min_trials`` such trials it continues.

    Example:
        >>> import tunehooks as th
        >>> from tunehooks.trial import Report
        >>> s = MedianScheduler(th.Fidelity(min=1, max=9, scheduler="median"),
        ...                     [th.Metric("loss", "minimize")], min_trials=1)
        >>> done = th.TrialRecord(1, 0, th.TrialState.COMPLETED, {}, reports=(Report(1, {"loss": 1.0}),))
        >>> slow = th.TrialRecord(2, 1, th.TrialState.RUNNING, {}, reports=(Report(1, {"loss": 2.0}),))
        >>> s.decide(slow, [done, slow])
        <Decision.STOP: 'STOP'>
    """

    def __init__(
        self,
        fidelity: Fidelity,
        metrics: Sequence[Metric],
        *,
        seed: int = 0,
        min_trials: int = 3,
    ) -> None:
        if isinstance(min_trials, bool) or not isinstance(min_trials, int) or min_trials < 1:
            raise ValueError(f"min_trials must be a positive integer (got {min_trials!r})")
        self.fidelity = fidelity
        self.metric = decision_metric(fidelity, metrics)
        self.min_trials = min_trials
        self.seed = int(seed)

    def _scores(self, trial: TrialRecord, step: float) -> list[float]:
        name, sign = self.metric.name, self.metric.sign
        out = []
        for rep in trial.reports:
            if rep.step > step + 1e-9:
                break
            if name in rep.metrics:
                v = float(rep.metrics[name])
                out.append(sign * v if math.isfinite(v) else -math.inf)
        return out

    def decides(self, trial_number: int, step: float, previous_step: float | None) -> bool:
        """Whether a report at ``step`` can stop the trial: from ``min`` on, before ``max``."""
        return self.fidelity.min_resource - 1e-9 <= step < self.fidelity.max_resource - 1e-9

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        if not trial.reports:
            return Decision.CONTINUE
        step = trial.reports[-1].step
        if step < self.fidelity.min_resource - 1e-9 or step >= self.fidelity.max_resource - 1e-9:
            return Decision.CONTINUE
        own = self._scores(trial, step)
        if not own:
            return Decision.CONTINUE
        averages = []
        for t in history:
            if t.id == trial.id or not t.reports or t.reports[-1].step < step - 1e-9:
                continue
            scores = self._scores(t, step)
            if scores:
                averages.append(sum(scores) / len(scores))
        if len(averages) < self.min_trials:
            return Decision.CONTINUE
        return Decision.STOP if max(own) < statistics.median(averages) else Decision.CONTINUE
