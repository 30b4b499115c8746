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

import math
from collections.abc import Callable, Sequence

from tunehooks.schedulers.base import FirstRung, Scheduler, as_scheduler
from tunehooks.trial import Decision, TrialRecord, TrialState

__all__ = [
    "DEFAULT_CONTINUE_CHANCE",
    "ChanceToWin",
    "ModelGuidedScheduler",
    "check_continue_chance",
]

DEFAULT_CONTINUE_CHANCE = 0.2
"""The model-guided scheduler's ``continue_chance`` (its ``min_chance``): a trial a rung rule
would stop goes on while the model gives it this chance to beat the best."""

ChanceToWin = Callable[[TrialRecord, Sequence[TrialRecord]], float | None]
"""(trial, history) -> probability that the trial's full-fidelity result beats the best
so far, or ``None`` when the judge has no opinion yet (too little data)."""


def check_continue_chance(value: object, *, field: str = "continue_chance") -> float:
    """``value`` as a ``continue_chance`` in ``[0, 1)`` (0: no second opinion), or a
    ValueError naming ``field``.

    Example:
        >>> check_continue_chance(0.3), check_continue_chance(0)
        (0.3, 0.0)
    """
    try:
        chance = math.nan if isinstance(value, bool) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        chance = math.nan
    if not 0.0 <= chance < 1.0:
        raise ValueError(
            f"{field} must lie in [0, 1) (got {value!r}); 0 turns the model's second opinion off"
        )
    return chance


class ModelGuidedScheduler(Scheduler):
    """``base``'s decisions, except a STOP the judge overrules.

    Pure: the same trial, history and judge give the same decision. The
    judge is only asked when ``base`` says STOP, so it costs nothing between
    rungs and nothing for trials that pass the rung anyway. ``min_chance`` is
    the ``continue_chance`` setting (:data:`DEFAULT_CONTINUE_CHANCE`).

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
        self.base = as_scheduler(base)
        self.judge = judge
        self.min_chance = float(min_chance)
        self.needs_history = self.base.needs_history
        self.pauses = self.base.pauses

    def decides(self, trial_number: int, step: float, previous_step: float | None) -> bool:
        """The base scheduler's decision points."""
        return self.base.decides(trial_number, step, previous_step)

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        decision = self.base.decide(trial, history)
        if decision is not Decision.STOP:
            return decision
        chance = self.judge(trial, history)
        if chance is not None and chance >= self.min_chance:
            return Decision.CONTINUE
        return Decision.STOP

    def first_rung(self) -> FirstRung | None:
        return self.base.first_rung()

    def first_rung_trusted(self, history: Sequence[TrialRecord]) -> bool | None:
        return self.base.first_rung_trusted(history)

    def promote(self, history: Sequence[TrialRecord], *, more_trials: bool) -> TrialRecord | None:
        """A pausing base scheduler's pick, else the PAUSED trial the judge rates highest,
        when its chance reaches ``min_chance`` (``None`` when the base does not pause)."""
        if not self.pauses:
            return None
        pick = self.base.promote(history, more_trials=more_trials)
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
