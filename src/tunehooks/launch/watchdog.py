"""A small process outside the launcher that ends the trials' process groups when the
launcher dies, however it dies (``kill -9`` included).

The launcher tells it each trial's process group over a pipe; when the pipe
closes (the launcher exited or was killed, the kernel closes it either way)
the watchdog sends SIGTERM to every group still registered, then SIGKILL to
those left after the grace period, and exits. It runs in its own session, so
a Ctrl-C at the terminal or a signal to the launcher's group does not reach it.
Trial processes never inherit the pipe (``close_fds``), so only the launcher
holds it open. This covers what ``PR_SET_PDEATHSIG`` cannot: the children of
a ``/bin/sh -c`` command, and trials that ignore SIGTERM.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys

__all__ = ["Watchdog"]

_CODE = r"""
import os, signal, sys, time
grace = float(sys.argv[1])
groups = set()
for line in sys.stdin:  # ends when the launcher is gone
    line = line.strip()
    if line[:1] == "+":
        groups.add(int(line[1:]))
    elif line[:1] == "-":
        groups.discard(int(line[1:]))

def alive(g):
    try:
        os.killpg(g, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True

for g in list(groups):
    try:
        os.killpg(g, signal.SIGTERM)
    except OSError:
        pass
deadline = time.time() + grace
while groups and time.time() < deadline:
    groups = {g for g in groups if alive(g)}
    time.sleep(0.05)
for g in groups:
    try:
        os.killpg(g, signal.SIGKILL)
    except OSError:
        pass
"""


class Watchdog:
    """Ends registered process groups once the launcher that started it is gone.

    Example:
        >>> import os, signal, subprocess, time
        >>> dog = Watchdog(grace=0.5)
        >>> p = subprocess.Popen(["sleep", "60"], start_new_session=True)
        >>> dog.watch(p.pid)
        >>> dog.close(end_all=True)           # as if the launcher died now
        >>> p.wait(timeout=10) == -signal.SIGTERM
        True
    """

    def __init__(self, *, grace: float) -> None:
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _CODE, repr(float(grace))],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._groups: set[int] = set()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _send(self, line: str) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        try:
            proc.stdin.write(line.encode() + b"\n")
            proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):  # it was killed: the launcher goes on
            self._proc = None

    def watch(self, pgid: int) -> None:
        """End process group ``pgid`` if the launcher dies before :meth:`forget`."""
        self._groups.add(pgid)
        self._send(f"+{pgid}")

    def forget(self, pgid: int) -> None:
        """The group ended (or was ended) by the launcher: nothing to do for it."""
        self._groups.discard(pgid)
        self._send(f"-{pgid}")

    def close(self, *, end_all: bool = False) -> None:
        """Stop the watchdog; with ``end_all`` it first ends the groups still registered."""
        proc = self._proc
        if proc is None:
            return
        if not end_all:
            for g in list(self._groups):
                self.forget(g)
        self._proc = None
        with contextlib.suppress(OSError, ValueError):
            if proc.stdin is not None:
                proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=60 if end_all else 5)
