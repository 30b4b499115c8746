"""Plain PyTorch (or any hand-written) training loops.

``tune_loop`` is a context manager around the trial: ``loop.epochs(n)`` counts
epochs up to the trial's fidelity and ends early once the scheduler says STOP;
``loop.report(epoch, {...})`` accepts tensors and returns the decision; on exit
the trial is COMPLETED, PRUNED or FAILED. ``report_epoch`` is the one-call form
for loops that manage the trial themselves. Neither imports torch: tensors are
read through ``.item()``.

``tune_loop(state={"model": model, "optimizer": opt, "scheduler": sched})`` makes the
loop resumable: after every report (``TUNEHOOKS_CHECKPOINT_EVERY``) the state dicts of
those objects and the random number generators (torch, CUDA, numpy, Python) are saved
with ``torch.save`` into the trial's checkpoint folder; a resumed trial (promoted from
PAUSED, or requeued after an interruption) loads them when the loop is made, and
``loop.epochs(n)`` continues after the restored epoch.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunehooks.integrations._common import MissingMetricError, Reporter, StateSaver, require
from tunehooks.trial import Decision, Trial

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

__all__ = ["MissingMetricError", "Reporter", "TorchState", "report_epoch", "tune_loop"]

_FILE = "state.pt"


class TorchState:
    """Saves and restores objects with ``state_dict()`` / ``load_state_dict()`` (models,
    optimizers, LR schedulers, a ``GradScaler``) and the random number generators, as one
    ``torch.save`` file.

    Example:
        >>> import tempfile, torch
        >>> model = torch.nn.Linear(2, 1)
        >>> saver = TorchState({"model": model})
        >>> folder = Path(tempfile.mkdtemp())
        >>> saver.save(folder)
        >>> with torch.no_grad():
        ...     _ = model.weight.fill_(0.0)
        >>> saver.load(folder)
        >>> bool(model.weight.abs().sum() > 0)
        True
    """

    def __init__(self, objects: Mapping[str, Any], *, rng: bool = True) -> None:
        for name, obj in objects.items():
            if not callable(getattr(obj, "state_dict", None)) or not callable(
                getattr(obj, "load_state_dict", None)
            ):
                raise TypeError(
                    f"state[{name!r}]: {type(obj).__name__} has no state_dict()/load_state_dict(); "
                    "pass models, optimizers and schedulers"
                )
        self.objects = dict(objects)
        self.rng = rng

    def save(self, folder: Path) -> None:
        torch = require("torch", extra="torch")
        data: dict[str, Any] = {
            "format": 1,
            "state": {k: v.state_dict() for k, v in self.objects.items()},
        }
        if self.rng:
            data["rng"] = _rng_state(torch)
        torch.save(data, Path(folder) / _FILE)

    def load(self, folder: Path) -> None:
        torch = require("torch", extra="torch")
        data = torch.load(Path(folder) / _FILE, map_location="cpu", weights_only=False)
        missing = [k for k in self.objects if k not in data["state"]]
        if missing:
            raise KeyError(f"the checkpoint has no {missing[0]!r} (it has {sorted(data['state'])})")
        for name, obj in self.objects.items():
            obj.load_state_dict(data["state"][name])
        if self.rng and "rng" in data:
            _set_rng_state(torch, data["rng"])


def _rng_state(torch: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np

        out["numpy"] = np.random.get_state()
    except ImportError:
        pass
    return out


def _set_rng_state(torch: Any, state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in state:
        import numpy as np

        np.random.set_state(state["numpy"])


def tune_loop(
    trial: Trial | Experiment | None = None,
    *,
    monitor: str | Sequence[str] | None = None,
    state: Mapping[str, Any] | StateSaver | None = None,
) -> Reporter:
    """A :class:`Reporter` for a hand-written loop; use it as a context manager.

    ``state``: the objects to checkpoint (``{"model": model, "optimizer": opt}``, see
    :class:`TorchState`) or any :class:`~tunehooks.integrations._common.StateSaver`; a
    resumed trial is restored from them at once and ``loop.epochs`` continues after
    the restored epoch (``loop.restored_step``).

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
    saver = TorchState(state) if isinstance(state, Mapping) else state
    return Reporter(trial, monitor=monitor, state=saver)


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
