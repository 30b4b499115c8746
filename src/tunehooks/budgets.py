"""Budget arithmetic, in one place: what a trial costs, what an experiment has used and
what is left. The experiment (when to stop asking), the launcher's progress line and
the analyses' cost tables all count with these functions.

A trial's cost is in full-training equivalents: 1 without a fidelity; with one, the
share of ``fidelity.max_resource`` it trained (its last reported step; a running trial counts
the fidelity it was started for, so a budget is never overcommitted; with ``tasks``
the fidelity it was given). A queued trial, and one that failed on its configuration,
cost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from tunehooks.fidelity import Fidelity
from tunehooks.metrics import Budget
from tunehooks.trial import CONFIG_ERROR_PREFIX, TrialRecord, TrialState

__all__ = [
    "BudgetUse",
    "budget_used",
    "configurations_done",
    "cost_left",
    "is_exhausted",
    "trial_cost",
    "trials_left",
]


class BudgetUse(NamedTuple):
    """What an experiment has used: first attempts started or queued, and their cost.

    Example:
        >>> used = budget_used([], None)
        >>> used, is_exhausted(Budget(trials=3), used), trials_left(Budget(trials=3), used.trials)
        (BudgetUse(trials=0, cost=0), False, 3)
    """

    trials: int
    cost: float


def trial_cost(t: TrialRecord, fidelity: Fidelity | None) -> float:
    """Cost of a trial in full-training equivalents (a configuration error costs none).

    Example:
        >>> from tunehooks.fidelity import Fidelity
        >>> from tunehooks.trial import Report
        >>> t = TrialRecord(id=1, number=0, state=TrialState.PRUNED, params={},
        ...                 reports=(Report(1, {"acc": 0.5}), Report(3, {"acc": 0.6})))
        >>> trial_cost(t, Fidelity(min=1, max=27)), trial_cost(t, None)
        (0.1111111111111111, 1.0)
    """
    if t.state is TrialState.QUEUED:
        return 0.0
    if t.state is TrialState.FAILED and (t.error or "").startswith(CONFIG_ERROR_PREFIX):
        return 0.0
    if fidelity is None:
        return 1.0
    full = fidelity.max_resource
    if fidelity.tasks is not None:  # a task costs its fraction, whatever it reports
        return min(t.fidelity if t.fidelity is not None else full, full) / full
    if t.state is TrialState.RUNNING:
        used = t.fidelity if t.fidelity is not None else full
    elif t.reports:
        used = float(t.reports[-1].step)
    else:
        used = t.fidelity if t.fidelity is not None else full
    return min(used, full) / full


def budget_used(history: Sequence[TrialRecord], fidelity: Fidelity | None) -> BudgetUse:
    """(first attempts started or queued, cost spent or committed) of ``history``."""
    n = sum(1 for t in history if t.attempt == 0)
    return BudgetUse(n, sum(trial_cost(t, fidelity) for t in history))


def is_exhausted(budget: Budget, used: BudgetUse) -> bool:
    """Whether either limit of ``budget`` is spent."""
    if budget.trials is not None and used.trials >= budget.trials:
        return True
    return budget.cost is not None and used.cost >= budget.cost


def configurations_done(history: Sequence[TrialRecord]) -> int:
    """Configurations finished: a failed attempt that was queued again is not done (its
    retry is), so this never passes the trial budget."""
    finished = sum(1 for t in history if t.state.is_finished)
    retried = sum(1 for t in history if t.attempt > 0)  # each stands for a failed attempt
    return finished - retried


def trials_left(budget: Budget, counted: int) -> int | None:
    """Trials ``budget`` still allows after ``counted`` (``None``: no trial limit)."""
    return None if budget.trials is None else max(0, budget.trials - counted)


def cost_left(budget: Budget, cost: float) -> float | None:
    """Cost ``budget`` still allows after ``cost`` was spent (``None``: no cost limit)."""
    return None if budget.cost is None else max(0.0, budget.cost - cost)
