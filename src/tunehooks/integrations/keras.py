"""Keras 3 (TensorFlow, torch or JAX backend): one callback for ``model.fit``.

Requires ``pip install "tunehooks[keras]"``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tunehooks import _trainings
from tunehooks.integrations._common import Reporter, require
from tunehooks.trial import Decision, Trial, TrialPruned, TrialState, TrialStateError, _error_text

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

keras = require("keras", extra="keras")
_Callback: Any = keras.callbacks.Callback
_CallbackList: Any = keras.callbacks.CallbackList

__all__ = ["TuneCallback"]


_LIST_HOOKS = (
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
)
_MODEL_STEPS = ("train_function", "test_function")
_MISSING = object()
_WEIGHTS = "model.weights.h5"


class TuneCallback(_Callback):
    """Report ``model.fit``'s epoch logs to a trial; stop when the scheduler says so.

    After every epoch the logs (``loss``, ``val_accuracy``, ...) are reported at
    step ``epoch + 1``; a STOP decision sets ``model.stop_training = True``. A
    NaN loss fails the trial and stops training. When ``fit`` ends the trial
    becomes PRUNED when the scheduler stopped it, else COMPLETED with its last
    metrics, except inside ``for trial in exp.ask_loop()`` or a ``with`` block,
    which complete it when they end: there several fits (the head, then
    fine-tuning) continue one curve, each fit's epochs after the last step
    reported. A second fit on a trial completed by an earlier fit is refused.

    Keras calls no callback when ``fit`` raises, so the callback watches the
    model's train and test steps and the fit's callbacks: the trial becomes
    FAILED with the error (inside ``ask_loop()`` or ``with``; outside them, at the
    raise when the callback saw it).

    Checkpoints: when the trial has a checkpoint folder (:attr:`tunehooks.Trial.checkpoint_dir`)
    the callback saves ``model.save_weights`` (the weights and the optimizer's state, on
    every backend) after every report (``TUNEHOOKS_CHECKPOINT_EVERY``). A resumed trial
    (promoted from PAUSED, or requeued after an interruption) loads them when ``fit``
    begins and continues from the epoch after the checkpoint, as Keras's own
    ``BackupAndRestore`` does (``initial_epoch`` continues). Ctrl-C pauses the trial to
    resume instead of failing it.

    Args:
        trial: the trial to train; an Experiment (its next trial); or None for
            :func:`tunehooks.current_trial` (the launcher's trial).
        monitor: metric name(s) the logs must contain, e.g. ``"val_accuracy"``;
            with one name it is reported as the optimized metric too when the
            experiment calls that metric otherwise (``val_acc``).

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
        self._watched: list[tuple[Any, str, Any]] = []  # (object, attribute) wrapped for one fit
        self._may_restore = True  # the first fit of this run restores a resumed trial

    @property
    def trial(self) -> Trial:
        """The trial this callback reports to."""
        return self._reporter.trial

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        trial = self._reporter.trial
        if trial.state is TrialState.COMPLETED:
            raise TrialStateError(
                f"trial {trial.number} was COMPLETED by the end of an earlier model.fit "
                f"(at step {self._reporter.last_step}); to train it in several fits, run them "
                "inside `for trial in exp.ask_loop()` or `with TuneCallback(trial) as cb:`, "
                "which complete the trial when they end"
            )
        if trial.is_finished:  # pruned or failed by an earlier fit: nothing to train
            if self.model is not None:
                self.model.stop_training = True
            return
        restored = self._restore() if self._may_restore else None
        self._may_restore = False
        self._reporter.begin_fit(restored=restored)
        _trainings.opened(trial.id, "model.fit")
        self._watch(sys._getframe(1).f_locals.get("self"), _LIST_HOOKS)
        self._watch(self.model, _MODEL_STEPS)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        self._last_logs = logs
        if self._reporter.trial.is_finished:
            return
        if _skips_validation(self._reporter.monitor, logs):
            return  # fit(validation_freq=n): no validation metrics in this epoch's logs
        decision = self._reporter.report(epoch + 1, logs, where="model.fit's epoch logs")
        resumer = self._reporter.resumer
        if self.model is not None and resumer.due(decision):
            step = self._reporter.last_step
            if step is not None:
                resumer.save(step, lambda folder: self.model.save_weights(folder / _WEIGHTS))
        if decision is Decision.STOP and self.model is not None:
            self.model.stop_training = True

    def _restore(self) -> int | None:
        """Load a resumed trial's checkpoint into the model and its optimizer; the step
        (epochs) restored, 0 for a fresh start, None when this run is no resumption."""
        model = self.model

        def load(folder: Path) -> None:
            if not model.built:
                raise ValueError("the model is not built before fit; build it to resume")
            if model.optimizer is not None and not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)  # its variables, to load
            model.load_weights(folder / _WEIGHTS)

        step = self._reporter.resumer.restore(load) if model is not None else None
        if step:
            model._initial_epoch = step  # as keras.callbacks.BackupAndRestore does
        return step

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.model is not None:
            self.model._initial_epoch = None  # a later fit starts where it is told
        self._unwatch()
        _trainings.closed(self.trial.id)
        if self._reporter.last_step is None and self._reporter.monitor and self._last_logs:
            # validation never ran: fail (and raise) with the metrics that do exist
            self._reporter.report(0, self._last_logs, where="model.fit's epoch logs")
        self._reporter.finish()

    def _watch(self, owner: Any, names: Sequence[str]) -> None:
        """Wrap ``owner``'s callables ``names`` (for this fit) to see the error they raise."""
        if owner is None or (owner is not self.model and not isinstance(owner, _CallbackList)):
            return
        for name in names:
            fn = getattr(owner, name, None)
            if callable(fn) and not getattr(fn, "_tunehooks_seeing", False):
                own = vars(owner).get(name, _MISSING)
                setattr(owner, name, self._seeing(fn))
                self._watched.append((owner, name, own))

    def _seeing(self, fn: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except BaseException as e:
                self._unwatch()
                if not isinstance(e, TrialPruned):
                    _trainings.failed(self.trial.id, _error_text(e))
                    self._reporter.finish(e)
                raise

        call._tunehooks_seeing = True  # type: ignore[attr-defined]
        return call

    def _unwatch(self) -> None:
        for owner, name, own in reversed(self._watched):
            if own is _MISSING:
                vars(owner).pop(name, None)
            else:
                setattr(owner, name, own)
        self._watched.clear()

    def __enter__(self) -> TuneCallback:
        _trainings.hold(self.trial.id)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        failure = _trainings.release(self.trial.id)
        if exc is not None:
            self._reporter.finish(exc, block_end=True)
        elif failure is not None and not self.trial.is_finished:
            self.trial.fail(failure)
        else:
            self._reporter.finish(block_end=True)
        return isinstance(exc, TrialPruned)


def _skips_validation(monitor: Sequence[str], logs: Mapping[str, Any]) -> bool:
    """True for an epoch without validation (``validation_freq`` > 1) when only
    validation metrics are monitored."""
    watched = bool(monitor) and all(m.startswith("val_") for m in monitor)
    return watched and not any(str(k).startswith("val_") for k in logs)
