"""tunehooks: Bayesian optimization, multi-fidelity scheduling and early stopping
for the training code you already have.

The public names are loaded on first use, so ``import tunehooks`` stays cheap
and imports no deep-learning framework and no YAML library.

Example:
    >>> import tunehooks as th
    >>> space = th.SearchSpace({"lr": th.Float(1e-4, 0.3, log=True)})
    >>> space.dim
    1
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunehooks.context import current_trial
    from tunehooks.experiment import ConfigMismatchError, Experiment
    from tunehooks.fidelity import Fidelity, SchedulerKind
    from tunehooks.metrics import Budget, Goal, Metric, Strategy
    from tunehooks.optimizers.base import Method
    from tunehooks.params import (
        Categorical,
        Constant,
        Float,
        Int,
        LinearConstraint,
        SpaceError,
    )
    from tunehooks.space import SearchSpace
    from tunehooks.trial import (
        Decision,
        Report,
        Trial,
        TrialPruned,
        TrialRecord,
        TrialState,
        TrialStateError,
    )

__version__ = "0.1.0"

_EXPORTS = {
    "Budget": "tunehooks.metrics",
    "Categorical": "tunehooks.params",
    "ConfigMismatchError": "tunehooks.experiment",
    "Constant": "tunehooks.params",
    "Decision": "tunehooks.trial",
    "Experiment": "tunehooks.experiment",
    "Fidelity": "tunehooks.fidelity",
    "Float": "tunehooks.params",
    "Goal": "tunehooks.metrics",
    "Int": "tunehooks.params",
    "LinearConstraint": "tunehooks.params",
    "Method": "tunehooks.optimizers.base",
    "Metric": "tunehooks.metrics",
    "Report": "tunehooks.trial",
    "SchedulerKind": "tunehooks.fidelity",
    "SearchSpace": "tunehooks.space",
    "SpaceError": "tunehooks.params",
    "Strategy": "tunehooks.metrics",
    "Trial": "tunehooks.trial",
    "TrialPruned": "tunehooks.trial",
    "TrialRecord": "tunehooks.trial",
    "TrialState": "tunehooks.trial",
    "TrialStateError": "tunehooks.trial",
    "current_trial": "tunehooks.context",
}

__all__ = [
    "Budget",
    "Categorical",
    "ConfigMismatchError",
    "Constant",
    "Decision",
    "Experiment",
    "Fidelity",
    "Float",
    "Goal",
    "Int",
    "LinearConstraint",
    "Method",
    "Metric",
    "Report",
    "SchedulerKind",
    "SearchSpace",
    "SpaceError",
    "Strategy",
    "Trial",
    "TrialPruned",
    "TrialRecord",
    "TrialState",
    "TrialStateError",
    "__version__",
    "current_trial",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tunehooks' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
