"""Trials as processes of this machine: one process group per trial, its stdout read
through a selector, a :class:`~tunehooks.launch.watchdog.Watchdog` that ends them if the
launcher dies."""

from __future__ import annotations

import contextlib
import os
import selectors
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tunehooks.launch.executors.base import TrialHandle
from tunehooks.launch.process import TrialProcess
from tunehooks.launch.recovery import write_process_file
from tunehooks.launch.watchdog import Watchdog

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """Runs each trial as a process of this machine.

    Example:
        >>> import sys, tempfile
        >>> from pathlib import Path
        >>> ex = LocalExecutor(grace=1.0)
        >>> h = ex.start([sys.executable, "-c", "print('hi')"], env=dict(os.environ), cwd=None,
        ...              run_dir=Path(tempfile.mkdtemp()))
        >>> lines = []
        >>> while h.poll() is None or not h.eof:
        ...     for r in ex.ready(0.05):
        ...         lines += r.read_lines()
        ...     if h.poll() is not None:
        ...         lines += h.drain()
        ...         break
        >>> ex.forget(h); ex.close(); lines
        ['hi']
    """

    def __init__(self, *, grace: float) -> None:
        self._sel = selectors.DefaultSelector()
        self._watchdog = Watchdog(grace=grace)
        self._handles: dict[int, TrialProcess] = {}  # by id()

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | os.PathLike[str] | None,
        run_dir: Path,
    ) -> TrialProcess:
        process = TrialProcess(
            argv, env=env, cwd=None if cwd is None else str(cwd), run_dir=run_dir
        )
        self._watchdog.watch(process.pgid)
        write_process_file(run_dir, process.pid)
        self._sel.register(process.stdout, selectors.EVENT_READ, process)
        self._handles[id(process)] = process
        return process

    def ready(self, timeout: float) -> list[TrialHandle]:
        if not self._handles:
            time.sleep(timeout)
            return []
        return [key.data for key, _ in self._sel.select(timeout=timeout)]

    def unregister(self, handle: TrialHandle) -> None:
        """Stop watching the output of ``handle`` (it reached its end)."""
        process = self._handles.get(id(handle))
        if process is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(process.stdout)

    def forget(self, handle: TrialHandle) -> None:
        process = self._handles.pop(id(handle), None)
        if process is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(process.stdout)
        process.close()
        self._watchdog.forget(process.pgid)

    def close(self) -> None:
        self._watchdog.close()
        self._sel.close()
