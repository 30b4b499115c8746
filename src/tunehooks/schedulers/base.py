"""The scheduler protocol: reports of all trials in, CONTINUE or STOP out. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tunehooks.trial import Decision, TrialRecord

__all__ = ["NoScheduler", "Scheduler"]


class Scheduler(Protocol):
    """Decides whether a running trial continues after its newest report.

    ``trial`` is the reporting trial with all its reports (the newest last);
    ``history`` holds every trial of the experiment with its reports. A
    scheduler may also choose the fidelity of a new trial (``None``: full).

    Optional members the experiment uses when present: ``needs_history = False``
    (never stops: no history is loaded), and
    ``decides(trial_number, step, previous_step) -> bool``, False when a report at
    ``step`` (after ``previous_step``, ``None`` for the first) cannot change anything
    (between rungs), so the experiment answers CONTINUE without loading any trial.
    """

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision: ...

    def new_trial_fidelity(self, history: Sequence[TrialRecord]) -> float | None: ...


class NoScheduler:
    """Never stops a trial; every trial trains at full fidelity.

    Example:
        >>> NoScheduler().new_trial_fidelity([]) is None
        True
    """

    needs_history = False

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        return Decision.CONTINUE

    def new_trial_fidelity(self, history: Sequence[TrialRecord]) -> float | None:
        return None
