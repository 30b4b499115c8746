"""MXNet 1.9: a hook for ``Module.fit`` and a helper for Gluon training loops.

Requires ``pip install "tunehooks[mxnet]"`` (MXNet 1.9.1 needs numpy < 1.24).

``Module.fit`` has no stop flag, so :class:`TuneHook` stops a pruned trial by
raising :class:`~tunehooks.TrialPruned` from its ``eval_end_callback``;
:meth:`TuneHook.fit` (or ``with hook:``) swallows it and finishes the trial.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tunehooks.integrations._common import MissingMetricError, Reporter, require
from tunehooks.trial import Decision, Trial, TrialPruned, TrialRecord

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

mx = require("mxnet", extra="mxnet")

__all__ = ["MissingMetricError", "TuneHook", "report_epoch", "tune_loop"]


class TuneHook:
    """An ``eval_end_callback`` for ``Module.fit`` that reports the validation metrics.

    After each epoch's evaluation the metrics ``eval_metric.get_name_value()``
    returns (``accuracy``, ...) are reported as ``prefix + name`` (default
    ``val_accuracy``) at step ``epoch + 1``. On STOP the hook raises
    :class:`~tunehooks.TrialPruned` to end ``fit``.

    Args:
        trial: the trial to train; an Experiment (its next trial); or None for
            :func:`tunehooks.current_trial` (the launcher's trial).
        monitor: metric name(s) each evaluation must produce (with the prefix).
        prefix: put before every metric name.

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-mxnet", th.SearchSpace({"lr": th.Float(0.01, 0.1)}),
        ...     metrics=[th.Metric("val_accuracy", goal="maximize")], budget=th.Budget(trials=1),
        ...     storage="sqlite://", method="random")
        >>> hook = TuneHook(exp, monitor="val_accuracy")
        >>> # hook.fit(module, train_iter, eval_data=val_iter, num_epoch=hook.trial.fidelity or 10)
        >>> with hook:
        ...     hook.report(1, {"accuracy": 0.8})
        <Decision.CONTINUE: 'CONTINUE'>
        >>> hook.trial.state.value
        'COMPLETED'
    """

    def __init__(
        self,
        trial: Trial | Experiment | None = None,
        *,
        monitor: str | Sequence[str] | None = None,
        prefix: str = "val_",
    ) -> None:
        self._reporter = Reporter(trial, monitor=monitor)
        self.prefix = prefix

    @property
    def trial(self) -> Trial:
        """The trial this hook reports to."""
        return self._reporter.trial

    def report(self, step: int, metrics: dict[str, Any]) -> Decision:
        """Report ``metrics`` (names without the prefix) at ``step``."""
        named = {f"{self.prefix}{k}": v for k, v in metrics.items()}
        return self._reporter.report(step, named, where="the evaluation metrics of Module.fit")

    def __call__(self, param: Any) -> None:
        """The ``eval_end_callback``: ``param`` is MXNet's ``BatchEndParam``."""
        pairs = param.eval_metric.get_name_value() if param.eval_metric is not None else []
        decision = self.report(int(param.epoch) + 1, dict(pairs))
        if decision is Decision.STOP:
            raise TrialPruned(f"trial {self.trial.number} stopped after epoch {param.epoch + 1}")

    def fit(self, module: Any, *args: Any, **kwargs: Any) -> TrialRecord:
        """``module.fit(*args, **kwargs)`` with this hook added; the finished trial.

        ``num_epoch`` defaults to the trial's fidelity when it has one.
        """
        callbacks = kwargs.pop("eval_end_callback", None)
        if callbacks is None:
            callbacks = []
        elif not isinstance(callbacks, list):
            callbacks = [callbacks]
        if "num_epoch" not in kwargs and self.trial.fidelity is not None:
            kwargs["num_epoch"] = round(self.trial.fidelity)
        with self:
            module.fit(*args, eval_end_callback=[*callbacks, self], **kwargs)
        return self.trial.record

    def __enter__(self) -> TuneHook:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return self._reporter.__exit__(exc_type, exc, tb)


def tune_loop(
    trial: Trial | Experiment | None = None, *, monitor: str | Sequence[str] | None = None
) -> Reporter:
    """A :class:`~tunehooks.integrations._common.Reporter` for a Gluon loop (a context manager).

    ``loop.epochs(n)`` counts epochs up to the trial's fidelity and ends early
    on STOP; ``loop.report(epoch, {"val_acc": acc})`` accepts NDArrays.
    """
    return Reporter(trial, monitor=monitor)


def report_epoch(
    trial: Trial,
    epoch: int,
    metrics: dict[str, Any],
    *,
    monitor: str | Sequence[str] | None = None,
) -> Decision:
    """Report ``metrics`` (numbers or one-element NDArrays) at ``epoch``; the decision."""
    return Reporter(trial, monitor=monitor).report(epoch, metrics, where="report_epoch's metrics")
