"""Heartbeats and reclaiming trials whose worker vanished (kill -9, preemption, a lost node)."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunehooks.trial import TrialRecord, TrialState, TrialStateError

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

__all__ = ["Reclaimed", "local_worker_is_dead", "reclaim_stale_trials"]


@dataclass(frozen=True)
class Reclaimed:
    """A RUNNING trial whose worker vanished: now FAILED, and its new attempt (if any).

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
) -> list[Reclaimed]:
    """Fail and requeue the RUNNING trials whose worker is gone.

    A worker is gone when it is a process of this host that no longer exists,
    or when its last heartbeat is older than ``stale_after`` seconds. The new
    attempt is queued when the trial's attempt is at most ``retries`` (so a
    vanished worker always earns one more attempt). Safe to run on several
    hosts at once: the finish is guarded, only one host reclaims a trial.
    Trials of the worker ``own`` (a launcher's id: its own trials) are skipped.
    """
    now = time.time()
    out = []
    for t in exp.storage.get_trials(exp.id, states=[TrialState.RUNNING], with_reports=False):
        beat = t.heartbeat_at or t.started_at or 0.0
        if own is not None and (t.worker_id or "").split("/")[0] == own:
            continue
        if local_worker_is_dead(t.worker_id, host):
            reason = f"its worker {t.worker_id} is gone"
        elif now - beat > stale_after:
            reason = f"no heartbeat from worker {t.worker_id} for {now - beat:.0f}s"
        else:
            continue
        try:
            rec = exp.storage.finish(t.id, TrialState.FAILED, error=f"reclaimed: {reason}")
        except TrialStateError:
            continue  # finished meanwhile, or another host reclaimed it
        retry = exp.storage.requeue(t.id) if t.attempt <= retries else None
        out.append(Reclaimed(rec, retry, reason))
    return out
