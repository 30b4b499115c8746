"""Lightning: one callback reports every validation to the trial and stops pruned trials.

Requires ``pip install "tunehooks[lightning]"`` (``lightning.pytorch``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunehooks.context import ENV_EXPERIMENT, ENV_TRIAL_ID, NoTrialError
from tunehooks.integrations._common import Reporter, require
from tunehooks.trial import Decision, Trial, TrialRecord

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

pl = require("lightning.pytorch", extra="lightning")
_states = require("lightning.pytorch.trainer.states", extra="lightning")
_Callback: Any = pl.Callback

__all__ = ["TuneCallback"]


class TuneCallback(_Callback):
    """Report validation metrics to a trial after every epoch; stop when the scheduler says so.

    The metrics are ``trainer.callback_metrics`` (what ``self.log`` logged) at
    the end of each validation outside the sanity check (at the end of each
    training epoch when there is no validation loop), reported at step
    ``current_epoch + 1``. A STOP decision sets ``trainer.should_stop``. When
    ``fit`` ends, the trial becomes COMPLETED with its last metrics, PRUNED when
    the scheduler stopped it, or FAILED with the error ``fit`` raised; nothing
    needs to be called after ``fit``.

    Under DDP every rank trains the same trial (read from the environment a
    launcher set: ``TUNEHOOKS_TRIAL_ID``); rank 0 alone writes, and its decision
    is broadcast to all ranks through ``trainer.strategy.broadcast``.

    Args:
        trial: the trial to train; an Experiment (its next trial); or None for
            :func:`tunehooks.current_trial` (the launcher's trial).
        monitor: metric name(s) every report must contain.

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-lightning", th.SearchSpace({"lr": th.Float(0.01, 0.1)}),
        ...     metrics=[th.Metric("val_loss", goal="minimize")], budget=th.Budget(trials=1),
        ...     storage="sqlite://", method="random")
        >>> callback = TuneCallback(exp, monitor="val_loss")
        >>> callback.trial.state.value
        'RUNNING'
    """

    def __init__(
        self,
        trial: Trial | Experiment | None = None,
        *,
        monitor: str | Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        rank = os.environ.get("RANK") or os.environ.get("LOCAL_RANK") or "0"
        if trial is None and not os.environ.get(ENV_TRIAL_ID) and rank != "0":
            raise NoTrialError(
                f"DDP rank {rank} has no {ENV_TRIAL_ID}, so it cannot train the same trial as "
                "rank 0: start the job with `tunehooks launch`, set the variable, or pass the "
                "trial to TuneCallback"
            )
        self._reporter = Reporter(trial, monitor=monitor)
        # Without a launcher, DDP ranks started later by Lightning must find the
        # trial this process asked for: hand its id down through the environment.
        self._exported = (
            trial is None
            and not os.environ.get(ENV_TRIAL_ID)
            and bool(os.environ.get(ENV_EXPERIMENT))
            and "LOCAL_RANK" not in os.environ
        )
        if self._exported:
            os.environ[ENV_TRIAL_ID] = str(self._reporter.trial.id)

    @property
    def trial(self) -> Trial:
        """The trial this callback reports to."""
        return self._reporter.trial

    @property
    def is_writer(self) -> bool:
        """False on DDP ranks other than 0, which read the trial but never write."""
        return self._reporter.writer

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._reporter.writer = bool(trainer.is_global_zero)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or trainer.state.fn != _states.TrainerFn.FITTING:
            return
        self._report(trainer)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.enable_validation:  # no validation loop: report the training metrics
            self._report(trainer)

    def _report(self, trainer: Any) -> None:
        decision = self._reporter.report(
            trainer.current_epoch + 1,
            trainer.callback_metrics,
            where="trainer.callback_metrics (what self.log logged)",
        )
        stop = trainer.strategy.broadcast(decision is Decision.STOP, src=0)
        if stop:
            trainer.should_stop = True

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._finish(None)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._finish(exception)
        self._unexport()

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._unexport()

    def _unexport(self) -> None:
        if self._exported and os.environ.get(ENV_TRIAL_ID) == str(self.trial.id):
            del os.environ[ENV_TRIAL_ID]
        self._exported = False

    def _finish(self, error: BaseException | None) -> TrialRecord | None:
        return self._reporter.finish(error)
