"""Asking for the next trial without stopping the launcher: the ask (a GP fit, seconds) runs
in a background thread while the loop goes on reading the trials' output and writing
heartbeats.

The thread asks through its own handle on the experiment (its own storage connection,
optimizer and report buffers), so nothing in memory is shared with the loop but the
scheduler, which is pure. One ask at a time: the loop takes the answer when it is
there. With an in-memory database (``sqlite://``: one connection, nothing to reach from
a second handle) the ask runs in the loop, as it did before.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunehooks.trial import Trial

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment
    from tunehooks.launch.devices import Slot

__all__ = ["Asked", "Asker", "in_memory_url"]


@dataclass(frozen=True)
class Asked:
    """The answer to one ask: the slot it was for, the trial (``None``: the budget is
    spent) or the error the ask raised (re-raised by the loop)."""

    slot: Slot
    trial: Trial | None
    error: BaseException | None = None


def in_memory_url(url: str) -> bool:
    """Whether ``url`` is an in-memory SQLite database (not reachable from a second handle).

    Example:
        >>> in_memory_url("sqlite://"), in_memory_url("sqlite:///runs.db")
        (True, False)
    """
    if not url.startswith("sqlite:"):
        return False
    path = url.split("://", 1)[-1].lstrip("/").split("?", 1)[0]
    return path in ("", ":memory:") or path.startswith("file::memory:")


class Asker:
    """Runs ``exp.ask`` in a background thread (on ``twin``, a second handle on the same
    experiment) and hands the trial over to ``exp``; ``twin=None`` asks in the caller.

    Example:
        >>> import tunehooks as th
        >>> from tunehooks.launch.devices import Slot
        >>> exp = th.Experiment.create("doc-asker", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("y", goal="maximize")], budget=th.Budget(trials=1),
        ...     storage="sqlite://",
        ...     method="random")
        >>> asker = Asker(exp, twin=None)
        >>> asker.submit(Slot(0), worker_id="doc/0")
        >>> asked = asker.wait(5.0)
        >>> asked.trial.number, asker.busy
        (0, False)
    """

    def __init__(self, exp: Experiment, *, twin: Experiment | None) -> None:
        self.exp = exp
        self.twin = twin
        self._done = threading.Event()
        self._answer: Asked | None = None
        self._thread: threading.Thread | None = None
        self._busy = False

    @property
    def busy(self) -> bool:
        """An ask was submitted and its answer not yet taken."""
        return self._busy

    def submit(self, slot: Slot, *, worker_id: str) -> None:
        """Start asking for a trial for ``slot`` (one ask at a time)."""
        if self._busy:
            raise RuntimeError("Asker.submit: an ask is already running")
        self._busy = True
        self._done.clear()
        self._answer = None
        if self.twin is None:
            self._ask(self.exp, slot, worker_id)
            return
        twin = self.twin
        self._thread = threading.Thread(
            target=self._ask, args=(twin, slot, worker_id), name="tunehooks-ask", daemon=True
        )
        self._thread.start()

    def _ask(self, exp: Experiment, slot: Slot, worker_id: str) -> None:
        try:
            trial = exp.ask(worker_id=worker_id)
            handle = None if trial is None else Trial(self.exp, trial.record)
            self._answer = Asked(slot, handle)
        except BaseException as e:  # handed to the loop, which re-raises it there
            self._answer = Asked(slot, None, e)
        finally:
            self._done.set()

    def take(self) -> Asked | None:
        """The answer, once it is there (then the asker is free again)."""
        return self.wait(0.0)

    def wait(self, timeout: float) -> Asked | None:
        """:meth:`take`, waiting up to ``timeout`` seconds for the answer."""
        if not self._busy or not self._done.wait(timeout):
            return None
        self._busy = False
        self._thread = None
        return self._answer
