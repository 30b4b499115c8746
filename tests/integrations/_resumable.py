"""A scripted pausing scheduler shared by the checkpoint tests: new trials train to
``rung`` and pause; the first PAUSED trial is then promoted to ``top``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from tunehooks.trial import Decision, TrialRecord, TrialState


class PauseThenPromote:
    needs_history = True
    pauses = True

    def __init__(self, rung: int = 3, top: int = 9) -> None:
        self.rung, self.top = rung, top

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        last = trial.reports[-1].step
        if (trial.fidelity or self.top) <= self.rung and last >= self.rung:
            return Decision.STOP
        return Decision.CONTINUE

    def new_trial_fidelity(self, history: Sequence[TrialRecord]) -> float | None:
        return float(self.rung)

    def promote(self, history: Sequence[TrialRecord], *, more_trials: bool) -> TrialRecord | None:
        for t in history:
            if t.state is TrialState.PAUSED:
                return dataclasses.replace(t, fidelity=float(self.top))
        return None


class Never:
    needs_history = False

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        return Decision.CONTINUE

    def new_trial_fidelity(self, history: Sequence[TrialRecord]) -> float | None:
        return None
