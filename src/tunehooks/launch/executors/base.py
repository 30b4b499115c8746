"""The executor seam: what the launcher needs from whatever runs its trials."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

__all__ = ["Executor", "TrialHandle"]


class TrialHandle(Protocol):
    """One started trial command, wherever it runs."""

    run_dir: Path
    eof: bool
    """True once all its output was read."""
    lost: str | None
    """Why it ended without an exit of its own (its node died), else ``None``."""

    def poll(self) -> int | None:
        """The exit code (negative: killed by that signal), or ``None`` while it runs."""
        ...

    def read_lines(self) -> list[str]:
        """The complete output lines available now (never blocks)."""
        ...

    def drain(self) -> list[str]:
        """Everything left to read once it ended."""
        ...

    def terminate(self, grace: float) -> None:
        """Ask it to stop now; end it for good once ``grace`` seconds pass (see :meth:`tick`)."""
        ...

    def tick(self, now: float) -> None:
        """Carry out a stop that :meth:`terminate` scheduled, when it is due."""
        ...

    def kill(self) -> None:
        """End it at once."""
        ...

    def stderr_tail(self, limit: int = 2000) -> str:
        """The end of what it wrote to stderr."""
        ...


class Executor(Protocol):
    """Starts trial commands and says which have output to read."""

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | os.PathLike[str] | None,
        run_dir: Path,
    ) -> TrialHandle:
        """Start ``argv``; raises ``OSError`` when the command cannot be started."""
        ...

    def ready(self, timeout: float) -> list[TrialHandle]:
        """The handles with output to read, waiting up to ``timeout`` seconds for one."""
        ...

    def unregister(self, handle: TrialHandle) -> None:
        """Its output reached its end: stop watching it."""
        ...

    def forget(self, handle: TrialHandle) -> None:
        """The trial ended and its output was read: release what it held."""
        ...

    def close(self) -> None:
        """The launcher stops: release everything (trials still running are ended)."""
        ...
