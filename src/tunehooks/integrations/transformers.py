"""Hugging Face ``transformers.Trainer``: one callback reports every evaluation.

Requires ``pip install "tunehooks[transformers]"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunehooks import _trainings
from tunehooks.integrations._common import Reporter, require
from tunehooks.trial import Decision, Trial, TrialPruned, TrialState, TrialStateError, _error_text

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

_tf = require("transformers", extra="transformers")
_Callback: Any = _tf.TrainerCallback

__all__ = ["TuneCallback"]


class TuneCallback(_Callback):
    """Report ``Trainer``'s evaluation metrics to a trial; stop when the scheduler says so.

    Every evaluation during ``trainer.train()`` (``eval_strategy="steps"`` or
    ``"epoch"``) reports its metrics (``eval_loss``, ``eval_accuracy`` from
    ``compute_metrics``, ...) at step ``state.global_step``, the optimizer steps
    so far: give the experiment's fidelity in optimizer steps and train
    ``max_steps=round(trial.fidelity)``. A STOP decision sets
    ``control.should_training_stop``. When training ends the trial becomes
    PRUNED when the scheduler stopped it, else COMPLETED with its last metrics
    (inside ``for trial in exp.ask_loop()`` the loop completes it when its body
    ends). ``Trainer`` calls no callback when training raises: an error in the
    model's forward is seen and fails the trial at once; inside ``ask_loop()``
    any training that did not reach its end fails the trial when the body ends.

    Under DDP (torchrun, ``accelerate launch``) every rank runs the same trial
    (see ``exp.ask_loop()``); rank 0 alone writes and its decision reaches every
    rank through ``torch.distributed``.

    Args:
        trial: the trial to train; an Experiment (its next trial); or None for
            :func:`tunehooks.current_trial` (the launcher's trial).
        monitor: metric name(s) every evaluation must contain, e.g.
            ``"eval_accuracy"``; with one name it is reported as the optimized
            metric too when the experiment names that metric otherwise.

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-hf", th.SearchSpace({"lr": th.Float(1e-4, 1e-2)}),
        ...     metrics=[th.Metric("eval_loss", goal="minimize")], budget=th.Budget(trials=1),
        ...     storage="sqlite://", method="random")
        >>> callback = TuneCallback(exp, monitor="eval_loss")
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
        self._reporter = Reporter(trial, monitor=monitor)
        self._training = False
        self._watched: Any = None

    @property
    def trial(self) -> Trial:
        """The trial this callback reports to."""
        return self._reporter.trial

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._reporter.writer = bool(state.is_world_process_zero)
        trial = self.trial
        if trial.state is TrialState.COMPLETED:
            raise TrialStateError(
                f"trial {trial.number} was COMPLETED by the end of an earlier Trainer.train; "
                "to train it in several runs, run them inside `for trial in exp.ask_loop()`"
            )
        if trial.is_finished:
            control.should_training_stop = True
            return
        self._reporter.begin_fit()
        self._training = True
        _trainings.opened(trial.id, "Trainer.train")
        self._watch(kwargs.get("model"))

    def on_evaluate(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self._training or self.trial.is_finished:
            return  # trainer.evaluate() outside train(), or the trial already ended
        decision = self._reporter.report(
            int(state.global_step), dict(metrics or {}), where="Trainer's evaluation metrics"
        )
        if _broadcast(decision is Decision.STOP):
            control.should_training_stop = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._unwatch()
        self._training = False
        _trainings.closed(self.trial.id)
        self._reporter.finish()

    def _watch(self, model: Any) -> None:
        """See the error the model's forward raises during this training."""
        forward = getattr(model, "forward", None)
        if not callable(forward) or "forward" in vars(model):
            return

        def seeing(*a: Any, **kw: Any) -> Any:
            try:
                return forward(*a, **kw)
            except BaseException as e:
                self._unwatch()
                if not isinstance(e, TrialPruned):
                    _trainings.failed(self.trial.id, _error_text(e))
                    self._reporter.finish(e)
                raise

        model.forward = seeing
        self._watched = model

    def _unwatch(self) -> None:
        if self._watched is not None:
            vars(self._watched).pop("forward", None)
            self._watched = None


def _broadcast(stop: bool) -> bool:
    """Rank 0's ``stop`` on every rank (itself outside ``torch.distributed``)."""
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch is a core dependency
        return stop
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return stop
    box = [stop]
    dist.broadcast_object_list(box, src=0)
    return bool(box[0])
