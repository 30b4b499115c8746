"""A second opinion on STOP: a trial the model still rates goes on.

Rung rules (ASHA, Hyperband, the median rule) compare a trial with the
population that reached the same rung. Under a model that proposes only good
configurations that population improves, the bar rises, and most proposals
are stopped at the first rung by noise, each configuration then being spent
for good. ``ModelGuidedScheduler`` keeps the rung rule and asks a judge (the
multi-fidelity optimizer's model) before a STOP is final: when the model
gives the trial's full-fidelity result at least ``min_chance`` to beat the
best full-fidelity result so far, the trial continues.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tunehooks.schedulers.base import Scheduler
from tunehooks.trial import Decision, TrialRecord, TrialState

__all__ = ["ChanceToWin", "ModelGuidedScheduler"]

ChanceToWin = Callable[[TrialRecord, Sequence[TrialRecord]], float | None]
"""(trial, history) -> probability that the trial's full-fidelity result beats the best
so far, or ``None`` when the judge has no opinion yet (too little data)."""


class ModelGuidedScheduler:
    """``base``'s decisions, except a STOP the judge overrules.

    Pure: the same trial, history and judge give the same decision. The
    judge is only asked when ``base`` says STOP, so it costs nothing between
    rungs and nothing for trials that pass the rung anyway.

    Example:
        >>> import tunehooks as th
        >>> from tunehooks.schedulers import ASHAScheduler
        >>> from tunehooks.trial import Report
        >>> asha = ASHAScheduler(th.Fidelity(min=1, max=9, eta=3), [th.Metric("acc", "maximize")])
        >>> good = th.TrialRecord(1, 0, th.TrialState.COMPLETED, {}, reports=(Report(1, {"acc": 0.9}),))
        >>> slow = th.TrialRecord(2, 1, th.TrialState.RUNNING, {}, reports=(Report(1, {"acc": 0.2}),))
        >>> ModelGuidedScheduler(asha, lambda t, h: 0.4, min_chance=0.2).decide(slow, [good, slow])
        <Decision.CONTINUE: 'CONTINUE'>
        >>> ModelGuidedScheduler(asha, lambda t, h: 0.1, min_chance=0.2).decide(slow, [good, slow])
        <Decision.STOP: 'STOP'>
    """

    def __init__(self, base: Scheduler, judge: ChanceToWin, *, min_chance: float) -> None:
        if not 0.0 < min_chance < 1.0:
            raise ValueError(f"min_chance must lie in (0, 1) (got {min_chance!r})")
        self.base = base
        self.judge = judge
        self.min_chance = float(min_chance)
        self.needs_history = bool(getattr(base, "needs_history", True))
        self.pauses = bool(getattr(base, "pauses", False))

    def decides(self, trial_number: int, step: float, previous_step: float | None) -> bool:
        """The base scheduler's decision points (every report when it does not say)."""
        decides = getattr(self.base, "decides", None)
        return True if decides is None else bool(decides(trial_number, step, previous_step))

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        decision = self.base.decide(trial, history)
        if decision is not Decision.STOP:
            return decision
        chance = self.judge(trial, history)
        if chance is not None and chance >= self.min_chance:
            return Decision.CONTINUE
        return Decision.STOP

    def new_trial_fidelity(self, history: Sequence[TrialRecord]) -> float | None:
        return self.base.new_trial_fidelity(history)

    def promote(self, history: Sequence[TrialRecord], *, more_trials: bool) -> TrialRecord | None:
        """A promotion scheduler's pick, else the PAUSED trial the judge rates highest, when
        its chance reaches ``min_chance`` (``None`` without a promoting base)."""
        promote = getattr(self.base, "promote", None)
        if promote is None:
            return None
        pick: TrialRecord | None = promote(history, more_trials=more_trials)
        if pick is not None:
            return pick
        best: tuple[float, int] | None = None
        chosen = None
        for t in history:
            if t.state is not TrialState.PAUSED:
                continue
            chance = self.judge(t, history)
            if chance is None:
                return None  # no opinion yet (the initial design)
            if chance >= self.min_chance and (best is None or (chance, -t.number) > best):
                best, chosen = (chance, -t.number), t
        return chosen
