"""One trial's process: started without a shell, its stdout read without blocking, stopped by signal.

The process gets its own session and process group (so a Ctrl-C at the terminal
reaches only the launcher, which then stops the trials itself, and a stop
reaches every process of the trial); on Linux it gets SIGTERM when the launcher
dies, even by SIGKILL, and the launcher's :class:`~tunehooks.launch.watchdog.Watchdog`
ends the rest of its group. Its stdout is copied to ``stdout.log`` as it is read
(unbuffered) and its stderr goes straight to ``stderr.log``, so both survive a
killed launcher.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tunehooks.context import ENV_EXPERIMENT, ENV_STORAGE, ENV_TRIAL_ID

__all__ = ["ENV_RUN_DIR", "TrialProcess", "absolute_url", "safe_name", "trial_env"]

ENV_RUN_DIR = "TUNEHOOKS_RUN_DIR"

_MAX_LINE = 1 << 20


class TrialProcess:
    """A started trial command; stdout is copied to ``run_dir/stdout.log`` as it is read.

    Example:
        >>> import sys, tempfile, time
        >>> p = TrialProcess([sys.executable, "-c", "print('hi')"], env=None, cwd=None,
        ...                  run_dir=tempfile.mkdtemp())
        >>> while p.poll() is None:
        ...     time.sleep(0.01)
        >>> p.drain(), p.poll()
        (['hi'], 0)
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None,
        cwd: str | None,
        run_dir: str | os.PathLike[str],
    ) -> None:
        self.run_dir = Path(run_dir)
        # unbuffered: each chunk read is in the file at once, so a killed launcher leaves it
        self._log = open(self.run_dir / "stdout.log", "ab", buffering=0)  # noqa: SIM115
        try:
            with open(self.run_dir / "stderr.log", "ab") as err:
                self._proc = subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    env=None if env is None else dict(env),
                    cwd=cwd,
                    start_new_session=True,
                    preexec_fn=_die_with_parent(os.getpid()),
                )
        except OSError:
            self._log.close()
            raise
        stdout = self._proc.stdout
        if stdout is None:  # pragma: no cover - stdout=PIPE
            raise RuntimeError("the trial process has no stdout pipe")
        self.stdout = stdout
        os.set_blocking(stdout.fileno(), False)
        self._buf = b""
        self.eof = False
        self.kill_at: float | None = None
        self.lost: str | None = None  # a process of this machine is never lost

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def pgid(self) -> int:
        """The process group of the trial: its own (``start_new_session``)."""
        return self._proc.pid

    def poll(self) -> int | None:
        """The exit code (negative: killed by that signal), or ``None`` while it runs."""
        return self._proc.poll()

    def read_lines(self) -> list[str]:
        """The complete lines available now (never blocks)."""
        if self.eof:
            return []
        try:
            data = os.read(self.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return []
        if not data:
            self.eof = True
            return []
        self._log.write(data)
        *lines, self._buf = (self._buf + data).split(b"\n")
        if len(self._buf) > _MAX_LINE:
            lines.append(self._buf)
            self._buf = b""
        return [line.decode("utf-8", errors="replace") for line in lines]

    def drain(self) -> list[str]:
        """Everything left to read once the process ended (a grandchild may hold the pipe)."""
        out: list[str] = []
        for _ in range(1000):
            before = self._log.tell()
            out += self.read_lines()
            if self.eof or self._log.tell() == before:
                break
        if self._buf:
            out.append(self._buf.decode("utf-8", errors="replace"))
            self._buf = b""
        return out

    def terminate(self, grace: float) -> None:
        """SIGTERM to the process group now, SIGKILL once ``grace`` seconds pass (see :meth:`tick`)."""
        self.signal(signal.SIGTERM)
        if self.kill_at is None:
            self.kill_at = time.time() + grace

    def tick(self, now: float) -> None:
        """Send the SIGKILL that :meth:`terminate` scheduled, when it is due."""
        if self.kill_at is not None and now >= self.kill_at and self.poll() is None:
            self.signal(signal.SIGKILL)
            self.kill_at = None

    def kill(self) -> None:
        """SIGKILL to the process group now."""
        self.signal(signal.SIGKILL)

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def stderr_tail(self, limit: int = 2000) -> str:
        try:
            with open(self.run_dir / "stderr.log", "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - limit))
                tail = f.read()
        except OSError:
            return ""
        return tail.decode("utf-8", errors="replace").strip()

    def close(self) -> None:
        self.eof = True
        self.stdout.close()
        self._log.close()


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """A pre-exec hook (Linux): the trial gets SIGTERM when the launcher dies, even by kill -9."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the launcher died before the hook ran
            os._exit(1)

    return hook


def trial_env(
    base: Mapping[str, str],
    *,
    storage: str,
    experiment: str,
    trial_id: int,
    run_dir: Path,
    gpus: Sequence[str] = (),
    hide_gpus: bool = False,
    pci_order: bool = False,
) -> dict[str, str]:
    """The environment of a trial process: the launcher's, plus the trial and its GPUs
    (``pci_order``: the GPU indices are ``nvidia-smi``'s, so CUDA numbers GPUs by PCI bus)."""
    env = dict(base)
    env.update(
        {
            ENV_STORAGE: absolute_url(storage),
            ENV_EXPERIMENT: experiment,
            ENV_TRIAL_ID: str(trial_id),
            ENV_RUN_DIR: str(run_dir.resolve()),
            "PYTHONUNBUFFERED": "1",  # reports arrive as they are printed
        }
    )
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
        if pci_order:
            env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    elif hide_gpus:
        env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU worker on a GPU machine
    return env


def safe_name(name: str) -> str:
    """An experiment name usable as one folder name inside the runs folder (never ``.``
    or ``..``, never a path).

    Example:
        >>> safe_name("digits mlp/v2"), safe_name(".."), safe_name(".hidden")
        ('digits_mlp_v2', '__', '_hidden')
    """
    out = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    out = re.sub(r"^\.+", lambda m: "_" * len(m.group(0)), out)  # no "..", no hidden folder
    return out[:200] or "experiment"


def absolute_url(url: str) -> str:
    """A relative SQLite path made absolute, so a program that changes folder finds it."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        path = url[len(prefix) :]
        if path and not path.startswith(":") and "?" not in path:
            return prefix + os.path.abspath(path)
    return url
