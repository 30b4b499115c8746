"""Lightning: one callback reports every validation to the trial and stops pruned trials.

Requires ``pip install "tunehooks[lightning]"`` (``lightning.pytorch``).
"""

from __future__ import annotations

import enum
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunehooks.checkpoint import warn_fresh_start
from tunehooks.context import ENV_EXPERIMENT, ENV_TRIAL_ID, NoTrialError
from tunehooks.integrations._common import Reporter, require
from tunehooks.integrations.torch import _rng_state, _set_rng_state
from tunehooks.trial import Decision, Trial, TrialRecord

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

pl = require("lightning.pytorch", extra="lightning")
_states = require("lightning.pytorch.trainer.states", extra="lightning")
_Callback: Any = pl.Callback

__all__ = ["ReportEvery", "TuneCallback"]

_CKPT = "trial.ckpt"


class ReportEvery(str, enum.Enum):
    """When :class:`TuneCallback` reports.

    ``EPOCH``: once per epoch, after its last validation, at step ``current_epoch
    + 1`` (with ``val_check_interval < 1`` the mid-epoch validations are not
    reported, so every rung compares end-of-epoch values). ``VALIDATION``: after
    every validation, at step ``trainer.global_step`` (optimizer steps; give the
    experiment's fidelity in optimizer steps), so a training of one long epoch
    can be pruned: set ``val_check_interval=N`` (batches) for a validation every
    N batches.
    """

    EPOCH = "epoch"
    VALIDATION = "validation"


class TuneCallback(_Callback):
    """Report validation metrics to a trial after every epoch; stop when the scheduler says so.

    The metrics are ``trainer.callback_metrics`` (what ``self.log`` logged) after
    the epoch's last validation outside the sanity check (at the end of each
    training epoch when there is no validation loop), reported at step
    ``current_epoch + 1``; ``every=ReportEvery.VALIDATION`` reports each
    validation at ``trainer.global_step`` instead. A STOP decision sets
    ``trainer.should_stop``. When ``fit`` ends, the trial becomes PRUNED when the
    scheduler stopped it, FAILED with the error ``fit`` raised, else COMPLETED
    with its last metrics (inside ``for trial in exp.ask_loop()`` the loop
    completes it when its body ends, so several fits continue one curve).
    Nothing needs to be called after ``fit``.

    Under DDP every rank trains the same trial; rank 0 alone writes, and its
    decision is broadcast to all ranks through ``trainer.strategy.broadcast``. A
    rank that raises stores its own error (rank 0 does not overwrite it with the
    connection error it then gets). The callback pickles (``strategy="ddp_spawn"``)
    as its storage URL and trial id.

    Checkpoints: when the trial has a checkpoint folder (:attr:`tunehooks.Trial.checkpoint_dir`)
    the callback saves the Trainer's own checkpoint (``trainer.save_checkpoint``: model,
    optimizers, LR schedulers, loops, callbacks; rank 0 writes) after every report
    (``TUNEHOOKS_CHECKPOINT_EVERY``), with the random number generators in the callback's
    state. A resumed trial (promoted from PAUSED, or requeued after SIGTERM, Ctrl-C or a
    lost worker) is restored from it as ``fit(ckpt_path=...)`` would, on every rank, and
    its epochs continue the curve. SIGTERM (Lightning's ``SIGTERMException``) and Ctrl-C
    pause the trial to resume instead of failing it.

    Args:
        trial: the trial to train; an Experiment (its next trial); or None for
            :func:`tunehooks.current_trial` (the launcher's trial).
        monitor: metric name(s) every report must contain; with one name it is
            reported as the optimized metric too when the experiment names that
            metric otherwise.
        every: :class:`ReportEvery` (``EPOCH`` by default).

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
        every: ReportEvery | str = ReportEvery.EPOCH,
    ) -> None:
        super().__init__()
        try:
            self.every = ReportEvery(every)
        except ValueError:
            choices = ", ".join(e.value for e in ReportEvery)
            raise ValueError(f"every: expected one of {choices} (got {every!r})") from None
        rank = os.environ.get("RANK") or os.environ.get("LOCAL_RANK") or "0"
        if trial is None and not os.environ.get(ENV_TRIAL_ID) and rank != "0":
            raise NoTrialError(
                f"DDP rank {rank} has no {ENV_TRIAL_ID}, so it cannot train the same trial as "
                "rank 0: start the job with `tunehooks launch`, set the variable, or pass the "
                "trial to TuneCallback"
            )
        self._reporter = Reporter(trial, monitor=monitor)
        self._validated = False  # a validation of this epoch is waiting to be reported
        self._said_min_epochs = False
        self._restored: int | None = None  # the step this fit was restored at
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
        self._restored = None
        if stage == "fit":
            self._restored = self._restore(trainer)

    def _restore(self, trainer: Any) -> int | None:
        """Preload a resumed trial's checkpoint, as ``fit(ckpt_path=...)`` does: Lightning
        then restores the model, callbacks, optimizers and loops from it."""
        resumer = self._reporter.resumer
        if not self.trial.is_resumed:
            return None
        found = resumer.checkpoint()
        if found is None:
            return 0
        path = found.path / _CKPT
        try:
            # the connector fit(ckpt_path=) loads through; the restore that follows uses it
            trainer._checkpoint_connector.resume_start(
                str(path), weights_only=False
            )  # our own file
        except Exception as e:  # corrupt or unreadable: train from the start
            trainer._checkpoint_connector._loaded_checkpoint = {}
            warn_fresh_start(
                self.trial.number, path, f"its checkpoint cannot be read ({type(e).__name__}: {e})"
            )
            return 0
        return found.step

    def state_dict(self) -> dict[str, Any]:
        """The random number generators, so a resumed fit draws what an unbroken one would."""
        import torch

        return {"rng": _rng_state(torch)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        import torch

        if "rng" in state_dict:
            _set_rng_state(torch, state_dict["rng"])

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self._reporter.begin_fit(restored=self._restored)
        self._validated = False

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or trainer.state.fn != _states.TrainerFn.FITTING:
            return
        if self.every is ReportEvery.VALIDATION:
            self._report(trainer, int(trainer.global_step))
        else:
            self._validated = True

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.every is ReportEvery.VALIDATION and trainer.enable_validation:
            return
        if self._validated or not trainer.enable_validation:  # no validation loop: training metrics
            self._validated = False
            every_step = self.every is ReportEvery.VALIDATION
            self._report(
                trainer, int(trainer.global_step) if every_step else trainer.current_epoch + 1
            )

    def _report(self, trainer: Any, step: int) -> None:
        decision = self._reporter.report(
            step,
            trainer.callback_metrics,
            where="trainer.callback_metrics (what self.log logged)",
        )
        stop = trainer.strategy.broadcast(decision is Decision.STOP, src=0)
        resumer = self._reporter.resumer
        due = resumer.enabled and resumer.due(Decision.STOP if stop else Decision.CONTINUE)
        if trainer.strategy.broadcast(due and self.is_writer, src=0):  # rank 0's say, all ranks
            # rank 0 writes; the others join the call (a collective) with a path they ignore
            folder = resumer.target(step) if self.is_writer else Path(trainer.default_root_dir)
            trainer.save_checkpoint(str(folder / _CKPT))
            if self.is_writer:
                resumer.commit(step)
        if stop:
            trainer.should_stop = True
            self._say_min_epochs(trainer, step)

    def _say_min_epochs(self, trainer: Any, step: int) -> None:
        min_epochs = getattr(trainer.fit_loop, "min_epochs", None) or 0
        min_steps = getattr(trainer.fit_loop, "min_steps", None) or 0
        epoch = trainer.current_epoch + 1
        if self._said_min_epochs or (epoch >= min_epochs and trainer.global_step >= min_steps):
            return
        self._said_min_epochs = True
        if self.is_writer:
            warnings.warn(
                f"tunehooks: the scheduler stopped trial {self.trial.number} at step {step}, "
                f"but Trainer(min_epochs={min_epochs or None}, min_steps={min_steps or None}) "
                "keeps training past the stop; the trial ends PRUNED when fit ends. Leave "
                "min_epochs/min_steps out to stop at the scheduler's rung",
                RuntimeWarning,
                stacklevel=2,
            )

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
