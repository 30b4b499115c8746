"""The launcher's view of its database: available, or unavailable since when.

While the database is unavailable (a server restart, a full disk, a read-only
file) the launcher keeps its running trials going and their reports in memory,
starts nothing, and tries again with a growing backoff (1 s up to 30 s). Once a
try works everything waiting is written; once the outage has lasted
``timeout`` seconds the launcher gives up with one line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["StorageGuard"]


@dataclass
class StorageGuard:
    """Tracks one outage at a time; ``say`` gets the lines to show.

    Example:
        >>> lines = []
        >>> g = StorageGuard(timeout=60, say=lines.append)
        >>> g.failed("connection refused", now=100.0); g.down, g.due(100.5), g.due(101.0)
        (True, False, True)
        >>> g.worked(now=112.0); g.down
        False
        >>> lines[-1]
        'the database is back after 12s; the waiting reports and trial ends are written'
    """

    timeout: float
    say: Callable[[str], None]
    since: float | None = None
    next_try: float = 0.0
    cause: str = ""
    outages: int = 0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, cause: str, *, now: float | None = None) -> None:
        """A storage call found the database unavailable."""
        now = time.monotonic() if now is None else now
        self.cause = cause
        if self.since is None:
            self.since = now
            self.outages += 1
            self.say(
                f"the database is unavailable ({cause}); the running trials go on, their "
                f"reports wait in memory; trying again for up to {self.timeout:.0f}s"
            )
            self.next_try = now + 1.0
        elif now >= self.next_try:  # a scheduled try failed: back off (1 s, growing to 30 s)
            self.next_try = now + min(30.0, max(1.0, (now - self.since) / 2))

    def worked(self, *, now: float | None = None) -> None:
        """A try worked: the outage (if any) is over."""
        if self.since is None:
            return
        now = time.monotonic() if now is None else now
        self.say(
            f"the database is back after {now - self.since:.0f}s; the waiting reports and "
            "trial ends are written"
        )
        self.since = None
        self.next_try = 0.0

    def due(self, now: float | None = None) -> bool:
        """Whether it is time to try the database again."""
        now = time.monotonic() if now is None else now
        return self.since is not None and now >= self.next_try

    def expired(self, now: float | None = None) -> bool:
        """Whether the outage has lasted ``timeout`` seconds."""
        now = time.monotonic() if now is None else now
        return self.since is not None and now - self.since >= self.timeout

    def seconds(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return 0.0 if self.since is None else now - self.since
