"""Heartbeats and reclaiming trials whose worker vanished (kill -9, preemption, a lost node)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tunehooks.checkpoint import ENV_CHECKPOINT_DIR, TrialCheckpoints, trial_checkpoint_dir
from tunehooks.trial import INTERRUPTED_PREFIX, TrialRecord, TrialState, TrialStateError

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

__all__ = [
    "PROCESS_FILE",
    "Reclaimed",
    "end_leftover_processes",
    "leftover_processes",
    "local_worker_is_dead",
    "pause_if_resumable",
    "reclaim_and_say",
    "reclaim_stale_trials",
    "write_process_file",
]

PROCESS_FILE = "process.json"
"""In a trial's run folder: the host, pid and process group of its process."""


@dataclass(frozen=True)
class Reclaimed:
    """A RUNNING trial whose worker vanished: now FAILED, and its new attempt (if any);
    or, when it has a checkpoint, PAUSED to resume from it (``retry`` is then itself).

    Example:
        >>> from tunehooks.trial import TrialRecord, TrialState
        >>> t = TrialRecord(id=1, number=0, state=TrialState.FAILED, params={})
        >>> Reclaimed(t, None, "its worker host:12 is gone").retry is None
        True
    """

    trial: TrialRecord
    retry: TrialRecord | None
    reason: str


def local_worker_is_dead(worker_id: str | None, host: str | None = None) -> bool:
    """True when ``worker_id`` (``host:pid[/slot]``) names a process of this host that is gone."""
    if not worker_id or ":" not in worker_id:
        return False
    worker_host, rest = worker_id.split(":", 1)
    if worker_host != (host or socket.gethostname()):
        return False
    pid_text = rest.split("/", 1)[0]
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a zombie (killed, not yet reaped) is gone too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def reclaim_stale_trials(
    exp: Experiment,
    *,
    stale_after: float,
    retries: int,
    host: str | None = None,
    own: str | None = None,
    by_heartbeat: bool = True,
    runs_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Reclaimed]:
    """Fail and requeue the RUNNING trials whose worker is gone.

    A worker is gone when it is a process of this host that no longer exists,
    or when its last heartbeat is older than ``stale_after`` seconds. The new
    attempt is queued when the trial's attempt is at most ``retries`` (so a
    vanished worker always earns one more attempt). Safe to run on several
    hosts at once: the finish is guarded, only one host reclaims a trial.
    Trials of the worker ``own`` (a launcher's id: its own trials) are skipped;
    ``by_heartbeat=False`` reclaims only trials of local workers that are gone (just
    after an outage every heartbeat is old). A trial with a checkpoint (in ``runs_dir``'s
    run folders or ``$TUNEHOOKS_CHECKPOINT_DIR``) is PAUSED instead, to resume from it:
    the next ask continues the same trial, its curve and its cost.
    """
    now = time.time()
    out = []
    for t in exp.storage.get_trials(exp.id, states=[TrialState.RUNNING], with_reports=False):
        beat = t.heartbeat_at or t.started_at or 0.0
        if own is not None and (t.worker_id or "").split("/")[0] == own:
            continue
        if local_worker_is_dead(t.worker_id, host):
            reason = f"its worker {t.worker_id} is gone"
        elif by_heartbeat and now - beat > stale_after:
            reason = f"no heartbeat from worker {t.worker_id} for {now - beat:.0f}s"
        else:
            continue
        paused = pause_if_resumable(exp, t.id, f"reclaimed: {reason}", runs_dir=runs_dir, env=env)
        if paused is not None:
            out.append(Reclaimed(paused, paused, f"{reason}; it resumes from its checkpoint"))
            continue
        try:
            rec = exp.storage.finish(t.id, TrialState.FAILED, error=f"reclaimed: {reason}")
        except TrialStateError:
            continue  # finished meanwhile, or another host reclaimed it
        retry = exp.storage.requeue(t.id) if t.attempt <= retries else None
        out.append(Reclaimed(rec, retry, reason))
    return out


def checkpoints_of(
    exp_name: str,
    trial_id: int,
    runs_dir: Path | None,
    *,
    env: Mapping[str, str] | None = None,
) -> TrialCheckpoints | None:
    """A launcher's view of a trial's checkpoint folder (what the trial's process sees as
    :attr:`tunehooks.Trial.checkpoint_dir`); ``env``: the trials' environment (the
    launcher's own by default)."""
    from tunehooks.launch.process import ENV_RUN_DIR, safe_name

    env = dict(os.environ if env is None else env)
    if runs_dir is not None and not env.get(ENV_CHECKPOINT_DIR):
        env[ENV_RUN_DIR] = str((Path(runs_dir) / safe_name(exp_name) / str(trial_id)).resolve())
    path = trial_checkpoint_dir(exp_name, trial_id, env=env)
    return None if path is None else TrialCheckpoints(path)


def pause_if_resumable(
    exp: Experiment,
    trial_id: int,
    reason: str,
    *,
    runs_dir: Path | None,
    env: Mapping[str, str] | None = None,
) -> TrialRecord | None:
    """PAUSE a RUNNING trial that was interrupted (its process ended by a signal, its
    worker gone) when it has a checkpoint, so the next ask resumes it from there; None
    (nothing written) when it has none or is no longer RUNNING."""
    folder = checkpoints_of(exp.name, trial_id, runs_dir, env=env)
    if folder is None or folder.latest() is None:
        return None
    try:
        return exp.tell(trial_id, state=TrialState.PAUSED, error=INTERRUPTED_PREFIX + reason)
    except TrialStateError:
        return None


def reclaim_and_say(
    exp: Experiment,
    *,
    stale_after: float,
    retries: int,
    own: str,
    by_heartbeat: bool,
    runs_dir: Path,
    grace: float,
    say: Callable[[str], None],
    env: Mapping[str, str] | None = None,
) -> int:
    """:func:`reclaim_stale_trials`, then end the processes of this host still running for
    them (in ``runs_dir/<experiment>/<trial id>/``) and say each; return how many were
    reclaimed (a trial with a checkpoint is PAUSED, to resume from it)."""
    from tunehooks.launch.process import safe_name

    found = reclaim_stale_trials(
        exp,
        stale_after=stale_after,
        retries=retries,
        own=own,
        by_heartbeat=by_heartbeat,
        runs_dir=runs_dir,
        env=env,
    )
    runs = runs_dir / safe_name(exp.name)
    for r in found:
        left = end_leftover_processes(runs / str(r.trial.id), grace=grace)
        if left:
            say(
                f"trial {r.trial.number}: {len(left)} of its old processes were still "
                f"running (pids {', '.join(map(str, left[:5]))}); ended them before a new "
                "copy starts"
            )
        again = (
            f"; queued again as trial {r.retry.number}"
            if r.retry is not None and r.retry.id != r.trial.id
            else ""
        )
        say(f"trial {r.trial.number} reclaimed ({r.reason}){again}")
    return len(found)


def write_process_file(run_dir: Path, pid: int) -> None:
    """Note a trial process (its own process group) in its run folder."""
    data = {"host": socket.gethostname(), "pid": pid, "pgid": pid, "started_at": time.time()}
    with contextlib.suppress(OSError):
        (run_dir / PROCESS_FILE).write_text(json.dumps(data))


def _proc_env(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(process group, start time in seconds since the epoch) of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":  # a zombie is gone
        return None
    started = _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return int(fields[2]), started


def _boot_time() -> float:
    with contextlib.suppress(OSError, ValueError), open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


def _alive(pid: int) -> bool:
    return _proc_stat(pid) is not None


def leftover_processes(run_dir: Path) -> list[int]:
    """Processes of this host still running for the trial whose run folder is ``run_dir``:
    members of the process group noted in it (started after the trial), and any process
    whose environment carries the trial's ``TUNEHOOKS_RUN_DIR`` (a child that left the
    group). Linux only; elsewhere none are found."""
    if not os.path.isdir("/proc"):
        return []
    marker = b"\0TUNEHOOKS_RUN_DIR=" + str(Path(run_dir).resolve()).encode() + b"\0"
    pgid, since = None, 0.0
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads((Path(run_dir) / PROCESS_FILE).read_text())
        if data.get("host") == socket.gethostname():
            pgid, since = int(data["pgid"]), float(data["started_at"])
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        stat = _proc_stat(pid)
        if stat is None:
            continue
        group, started = stat
        if (group == pgid and started >= since - 2.0) or marker in b"\0" + _proc_env(pid):
            found.append(pid)
    return found


def end_leftover_processes(run_dir: Path, *, grace: float) -> list[int]:
    """End what :func:`leftover_processes` finds (SIGTERM, SIGKILL after ``grace``
    seconds) and wait until it is gone; return the pids that were still running."""
    pids = leftover_processes(run_dir)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        if not any(_alive(p) for p in pids):
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.time() + wait
        while time.time() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.05)
    return pids
