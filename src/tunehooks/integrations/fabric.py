"""Lightning Fabric: the plain-loop helper with every rank following rank 0's decision.

Requires ``pip install "tunehooks[fabric]"`` (``lightning.fabric``, part of ``lightning``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunehooks.integrations._common import Reporter, require
from tunehooks.trial import Decision, Trial

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

require("lightning.fabric", extra="fabric")

__all__ = ["FabricLoop", "fabric_loop"]


class FabricLoop(Reporter):
    """A :class:`~tunehooks.integrations.torch.tune_loop` for a Fabric training loop.

    Rank 0 (``fabric.global_rank``) alone writes; each report's decision is
    broadcast from rank 0 (``fabric.broadcast``), so ``loop.epochs()`` ends on
    every rank at the same epoch. Every rank must call :meth:`report` at the
    same points with the same monitored metrics (reduce them first, e.g.
    ``fabric.all_reduce(acc, reduce_op="mean")``).

    Example (one process; under ``fabric.launch()`` every rank runs the same lines):
        >>> import tunehooks as th
        >>> from lightning.fabric import Fabric
        >>> exp = th.Experiment.create("doc-fabric-loop", th.SearchSpace({"lr": th.Float(0.01, 0.1)}),
        ...     metrics=[th.Metric("val_acc", goal="maximize")], budget=th.Budget(trials=1),
        ...     storage="sqlite://", method="random")
        >>> with FabricLoop(Fabric(accelerator="cpu", devices=1), exp, monitor="val_acc") as loop:
        ...     for epoch in loop.epochs(max_epochs=2):
        ...         _ = loop.report(epoch, {"val_acc": 0.4 * epoch})
        >>> loop.writer, loop.stopped, loop.trial.record.value("val_acc")
        (True, True, 0.8)
    """

    def __init__(
        self,
        fabric: Any,
        trial: Trial | Experiment | None = None,
        *,
        monitor: str | Sequence[str] | None = None,
    ) -> None:
        super().__init__(trial, monitor=monitor, writer=int(fabric.global_rank) == 0)
        self.fabric = fabric
        self._stop = False

    @property
    def stopped(self) -> bool:
        """True once rank 0's scheduler said STOP (on every rank) or the trial finished."""
        return self._stop or self.trial.should_stop

    def report(
        self, step: int, metrics: Mapping[str, Any], *, where: str = "the training"
    ) -> Decision:
        """:meth:`Reporter.report` on this rank, then rank 0's decision on every rank."""
        decision = super().report(step, metrics, where=where)
        if int(self.fabric.world_size) > 1:
            self._stop = bool(self.fabric.broadcast(decision is Decision.STOP, src=0))
        else:
            self._stop = decision is Decision.STOP
        return Decision.STOP if self._stop else Decision.CONTINUE


def fabric_loop(
    fabric: Any,
    trial: Trial | Experiment | None = None,
    *,
    monitor: str | Sequence[str] | None = None,
) -> FabricLoop:
    """A :class:`FabricLoop` for ``trial``; use it as a context manager.

    Example:
        >>> import tunehooks as th
        >>> from lightning.fabric import Fabric
        >>> exp = th.Experiment.create("doc-fabric", th.SearchSpace({"lr": th.Float(0.01, 0.1)}),
        ...     metrics=[th.Metric("val_acc", goal="maximize")], budget=th.Budget(trials=1),
        ...     storage="sqlite://", method="random")
        >>> fabric = Fabric(accelerator="cpu", devices=1)
        >>> with fabric_loop(fabric, exp, monitor="val_acc") as loop:
        ...     for epoch in loop.epochs(max_epochs=3):
        ...         _ = loop.report(epoch, {"val_acc": 0.25 * epoch})
        >>> loop.trial.state.value, loop.trial.record.value("val_acc")
        ('COMPLETED', 0.75)
    """
    return FabricLoop(fabric, trial, monitor=monitor)
