"""Plain PyTorch (or any hand-written) training loops.

``tune_loop`` is a context manager around the trial: ``loop.epochs(n)`` counts
epochs up to the trial's fidelity and ends early once the scheduler says STOP;
``loop.report(epoch, {...})`` accepts tensors and returns the decision; on exit
the trial is COMPLETED, PRUNED or FAILED. ``report_epoch`` is the one-call form
for loops that manage the trial themselves. Neither imports torch: tensors are
read through ``.item()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunehooks.integrations._common import MissingMetricError, Reporter
from tunehooks.trial import Decision, Trial

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

__all__ = ["MissingMetricError", "Reporter", "report_epoch", "tune_loop"]


def tune_loop(
    trial: Trial | Experiment | None = None, *, monitor: str | Sequence[str] | None = None
) -> Reporter:
    """A :class:`Reporter` for a hand-written loop; use it as a context manager.

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-torch", th.SearchSpace({"lr": th.Float(0.01, 0.1)}),
        ...     metrics=[th.Metric("val_acc", goal="maximize")], budget=th.Budget(trials=1),
        ...     storage="sqlite://", method="random")
        >>> with tune_loop(exp, monitor="val_acc") as loop:
        ...     for epoch in loop.epochs(max_epochs=3):
        ...         _ = loop.report(epoch, {"val_acc": 0.25 * epoch})
        >>> loop.trial.state.value, loop.trial.record.value("val_acc")
        ('COMPLETED', 0.75)
    """
    return Reporter(trial, monitor=monitor)


def report_epoch(
    trial: Trial,
    epoch: int,
    metrics: Mapping[str, Any],
    *,
    monitor: str | Sequence[str] | None = None,
) -> Decision:
    """Report ``metrics`` (numbers or scalar tensors) at ``epoch``; the scheduler's decision.

    A NaN or infinite value fails the trial and returns STOP; a missing
    ``monitor`` metric raises :class:`MissingMetricError` listing the metrics
    given.
    """
    return Reporter(trial, monitor=monitor).report(epoch, metrics, where="report_epoch's metrics")
