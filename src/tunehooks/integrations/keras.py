"""Keras 3 (TensorFlow, torch or JAX backend): one callback for ``model.fit``.

Requires ``pip install "tunehooks[keras]"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tunehooks.integrations._common import Reporter, require
from tunehooks.trial import Decision, Trial, TrialPruned

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

keras = require("keras", extra="keras")
_Callback: Any = keras.callbacks.Callback

__all__ = ["TuneCallback"]


class TuneCallback(_Callback):
    """Report ``model.fit``'s epoch logs to a trial; stop when the scheduler says so.

    After every epoch the logs (``loss``, ``val_accuracy``, ...) are reported at
    step ``epoch + 1``; a STOP decision sets ``model.stop_training = True``.
    When training ends the trial becomes COMPLETED with its last metrics, or
    PRUNED when the scheduler stopped it. A NaN loss fails the trial and stops
    training. Keras has no exception hook: to mark the trial FAILED when
    ``fit`` raises, use the callback as a context manager
    (``with TuneCallback(trial) as cb: model.fit(..., callbacks=[cb])``).

    Args:
        trial: the trial to train; an Experiment (its next trial); or None for
            :func:`tunehooks.current_trial` (the launcher's trial).
        monitor: metric name(s) the logs must contain, e.g. ``"val_accuracy"``.

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-keras", th.SearchSpace({"lr": th.Float(0.01, 0.1)}),
        ...     metrics=[th.Metric("val_accuracy", goal="maximize")], budget=th.Budget(trials=1),
        ...     storage="sqlite://", method="random")
        >>> callback = TuneCallback(exp, monitor="val_accuracy")
        >>> callback.on_epoch_end(0, {"val_accuracy": 0.5})
        >>> callback.on_train_end()
        >>> callback.trial.state.value
        'COMPLETED'
    """

    def __init__(
        self,
        trial: Trial | Experiment | None = None,
        *,
        monitor: str | Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self._reporter = Reporter(trial, monitor=monitor)
        self._last_logs: dict[str, Any] = {}

    @property
    def trial(self) -> Trial:
        """The trial this callback reports to."""
        return self._reporter.trial

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        self._last_logs = logs
        if _skips_validation(self._reporter.monitor, logs):
            return  # fit(validation_freq=n): no validation metrics in this epoch's logs
        decision = self._reporter.report(epoch + 1, logs, where="model.fit's epoch logs")
        if decision is Decision.STOP and self.model is not None:
            self.model.stop_training = True

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self._reporter.last_step is None and self._reporter.monitor and self._last_logs:
            # validation never ran: fail (and raise) with the metrics that do exist
            self._reporter.report(0, self._last_logs, where="model.fit's epoch logs")
        self._reporter.finish()

    def __enter__(self) -> TuneCallback:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is not None:
            self._reporter.finish(exc)
        return isinstance(exc, TrialPruned)


def _skips_validation(monitor: Sequence[str], logs: Mapping[str, Any]) -> bool:
    """True for an epoch without validation (``validation_freq`` > 1) when only
    validation metrics are monitored."""
    watched = bool(monitor) and all(m.startswith("val_") for m in monitor)
    return watched and not any(str(k).startswith("val_") for k in logs)
