"""The launcher loop's small parts: its timers, the state it carries between passes, and
the stop signals it listens to."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tunehooks.launch.devices import Slot

__all__ = ["Every", "LoopState", "install_stop_handlers"]

RESIZE_EVERY = 2.0  # seconds between reads of a cluster's capacity


@dataclass
class Every:
    """A timer of the loop: due once ``interval`` seconds passed since it was last due.

    Example:
        >>> t = Every(10.0, last=100.0)
        >>> t.due(105.0), t.due(110.0), t.due(111.0)
        (False, True, False)
    """

    interval: float
    last: float = field(default_factory=time.time)

    def due(self, now: float) -> bool:
        if now - self.last < self.interval:
            return False
        self.last = now
        return True


@dataclass
class LoopState:
    """What the loop carries between passes: free slots, whether more trials may come,
    whether the progress line is out of date, and its timers."""

    free: list[Slot]
    more: bool = True
    changed: bool = True
    beat: Every = field(default_factory=lambda: Every(10.0))
    reclaim: Every = field(default_factory=lambda: Every(30.0))
    stats: Every = field(default_factory=lambda: Every(1.0))
    resize: Every = field(default_factory=lambda: Every(RESIZE_EVERY))


def install_stop_handlers(on_signal: Callable[[int], None]) -> Callable[[], None]:
    """Call ``on_signal(signum)`` on SIGINT, SIGTERM and SIGHUP (main thread only); return
    what restores the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, _frame: Any) -> None:
        on_signal(signum)

    signals = [signal.SIGINT, signal.SIGTERM]
    if hasattr(signal, "SIGHUP"):  # the terminal closed
        signals.append(signal.SIGHUP)
    old = {s: signal.signal(s, handler) for s in signals}

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)

    return restore
