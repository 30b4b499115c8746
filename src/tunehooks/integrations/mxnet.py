"""MXNet 1.9: a hook for ``Module.fit`` and a helper for Gluon training loops.

Requires ``pip install "tunehooks[mxnet]"`` (MXNet 1.9.1 needs numpy < 1.24).

``Module.fit`` has no stop flag, so :class:`TuneHook` stops a pruned trial by
raising :class:`~tunehooks.TrialPruned` from its ``eval_end_callback``;
:meth:`TuneHook.fit` (or ``with hook:``) swallows it and finishes the trial.

Checkpoints (when the trial has a checkpoint folder, :attr:`tunehooks.Trial.checkpoint_dir`):
:meth:`TuneHook.fit` saves ``Module.save_checkpoint`` (symbol, parameters, optimizer
states) after every report and resumes a resumed trial from it (``begin_epoch``, the
parameters and the optimizer states, as ``Module.load`` does); a Gluon loop passes
``tune_loop(state=GluonState(net, trainer))`` (``save_parameters`` and the trainer's
``save_states``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tunehooks.integrations._common import MissingMetricError, Reporter, require
from tunehooks.trial import Decision, Trial, TrialPruned, TrialRecord

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

mx = require("mxnet", extra="mxnet")

__all__ = ["GluonState", "MissingMetricError", "TuneHook", "report_epoch", "tune_loop"]

_PREFIX = "module"


class GluonState:
    """Saves and restores a Gluon network's parameters (``save_parameters``) and its
    ``gluon.Trainer``'s optimizer states (``save_states``); MXNet's own formats.

    Example:
        >>> import tempfile
        >>> net = mx.gluon.nn.Dense(2, in_units=3)
        >>> net.initialize()
        >>> trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
        >>> folder = Path(tempfile.mkdtemp())
        >>> GluonState(net, trainer).save(folder)
        >>> sorted(p.name for p in folder.iterdir())
        ['net.params', 'trainer.states']
    """

    def __init__(self, net: Any, trainer: Any | None = None) -> None:
        self.net, self.trainer = net, trainer

    def save(self, folder: Path) -> None:
        self.net.save_parameters(str(Path(folder) / "net.params"))
        if self.trainer is not None:
            self.trainer.save_states(str(Path(folder) / "trainer.states"))

    def load(self, folder: Path) -> None:
        self.net.load_parameters(str(Path(folder) / "net.params"))
        if self.trainer is not None:
            self.trainer.load_states(str(Path(folder) / "trainer.states"))


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
        self._module: Any = None  # the module fit() trains (to checkpoint)

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
        resumer, step = self._reporter.resumer, self._reporter.last_step
        if self._module is not None and step is not None and resumer.due(decision):
            module = self._module
            resumer.save(
                step,
                lambda folder: module.save_checkpoint(
                    str(folder / _PREFIX), step, save_optimizer_states=True
                ),
            )
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
        self._module = module
        self._resume(module, kwargs)
        with self:
            module.fit(*args, eval_end_callback=[*callbacks, self], **kwargs)
        return self.trial.record

    def _resume(self, module: Any, kwargs: dict[str, Any]) -> None:
        """A resumed trial continues from its checkpoint, as ``Module.load`` would."""
        loaded: dict[str, Any] = {}

        def load(folder: Path) -> None:
            step = int(folder.name.split("-")[1])
            _, loaded["arg_params"], loaded["aux_params"] = mx.model.load_checkpoint(
                str(folder / _PREFIX), step
            )
            states = folder / f"{_PREFIX}-{step:04d}.states"
            if not states.exists():
                raise FileNotFoundError(f"no optimizer states {states.name}")
            loaded["states"] = str(states)

        step = self._reporter.resumer.restore(load)
        if step is None:
            return
        if step:
            kwargs.update(
                arg_params=loaded["arg_params"], aux_params=loaded["aux_params"], begin_epoch=step
            )
            module._preload_opt_states = loaded["states"]  # what Module.load sets
        self._reporter.begin_fit(restored=step)

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
    trial: Trial | Experiment | None = None,
    *,
    monitor: str | Sequence[str] | None = None,
    state: GluonState | None = None,
) -> Reporter:
    """A :class:`~tunehooks.integrations._common.Reporter` for a Gluon loop (a context manager).

    ``loop.epochs(n)`` counts epochs up to the trial's fidelity and ends early
    on STOP; ``loop.report(epoch, {"val_acc": acc})`` accepts NDArrays.
    ``state=GluonState(net, trainer)`` checkpoints after every report; a resumed trial
    is restored at once and ``loop.epochs`` continues after the restored epoch.
    """
    return Reporter(trial, monitor=monitor, state=state)


def report_epoch(
    trial: Trial,
    epoch: int,
    metrics: dict[str, Any],
    *,
    monitor: str | Sequence[str] | None = None,
) -> Decision:
    """Report ``metrics`` (numbers or one-element NDArrays) at ``epoch``; the decision."""
    return Reporter(trial, monitor=monitor).report(epoch, metrics, where="report_epoch's metrics")
