"""What the launcher loop keeps up between starting trials: its running trials'
heartbeats, the trials of vanished workers reclaimed, the progress numbers, a cluster's
slots as nodes join and leave, and while the database is unavailable, writing what waits
or giving up (:mod:`tunehooks.launch.outage` says when).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from tunehooks.launch.devices import Slot
from tunehooks.launch.placement import cluster_capacity
from tunehooks.launch.pool import TrialPool, guarded
from tunehooks.launch.progress import ProgressSink, SweepStats, sweep_stats
from tunehooks.launch.recovery import reclaim_and_say
from tunehooks.storage import StorageUnavailableError
from tunehooks.storage._retry import Transient

if TYPE_CHECKING:
    from tunehooks.launch.executors.ray_cluster import RayExecutor

__all__ = ["Upkeep"]


class Upkeep:
    """The launcher's upkeep of one launch (see the module docstring).

    Example:
        >>> import tunehooks.launch as tl
        >>> from pathlib import Path
        >>> from tunehooks.launch.judge import TrialJudge
        >>> from tunehooks.launch.outage import StorageGuard
        >>> from tunehooks.launch.progress import LogProgress
        >>> sweep = tl.parse_sweep({"name": "doc-upkeep", "command": ["true"],
        ...     "method": "random", "metric": {"name": "y", "goal": "maximize"},
        ...     "parameters": {"x": {"min": 0.0, "max": 1.0}}, "run_cap": 1})
        >>> exp = sweep.open_experiment(storage="memory://doc-upkeep")
        >>> guard = StorageGuard(60.0, print)
        >>> judge = TrialJudge(exp, sweep, print, lambda: 0)
        >>> pool = TrialPool(exp, sweep, judge, guard, say=print,
        ...     runs_dir=Path("/tmp/tunehooks-doc-upkeep"), env={})
        >>> upkeep = Upkeep(pool, LogProgress(), worker_id="me:1", stale_after=90.0,
        ...     t0=time.time())
        >>> upkeep.reclaim(), upkeep.reclaimed, upkeep.resized(set())
        (False, 0, None)
    """

    def __init__(
        self,
        pool: TrialPool,
        progress: ProgressSink,
        *,
        worker_id: str,
        stale_after: float,
        t0: float,
    ) -> None:
        self.pool = pool
        self.exp, self.sweep, self.judge, self.guard = pool.exp, pool.sweep, pool.judge, pool.guard
        self.progress = progress
        self.worker_id = worker_id
        self.stale_after = stale_after
        self.t0 = t0
        self.reclaimed = 0
        # set once the launcher placed its slots
        self.n_slots = 1
        self.cluster: RayExecutor | None = None
        self.workers: int | None = None
        self.outage_ended_at = 0.0
        self._stats: SweepStats | None = None

    def heartbeat(self) -> None:
        guarded(self.guard, lambda: self.exp.heartbeat(list(self.pool.running)))

    def reclaim(self) -> bool:
        """Requeue the trials of vanished workers (any host; not by heartbeat shortly after
        an outage: nobody could write one); True when some were. A trial of this host whose
        processes are still running is ended first."""
        after_outage = time.time() - self.outage_ended_at < self.stale_after
        try:
            n = reclaim_and_say(
                self.exp,
                stale_after=self.stale_after,
                retries=self.sweep.retries,
                own=self.worker_id,
                by_heartbeat=not after_outage,
                runs_dir=self.pool.runs_dir,
                grace=min(self.pool.stop_grace, 5.0),
                say=self.progress.event,
                env=self.pool.env,
            )
        except StorageUnavailableError as e:
            self.guard.failed(e.cause)
            return False
        self.reclaimed += n
        return n > 0

    def update_stats(self, *, cheap: bool = False) -> None:
        """Show the progress (``cheap``: the last numbers, only the time moves on)."""
        if not cheap or self._stats is None:
            try:  # progress is best effort: a database hiccup must not end the sweep
                self._stats = sweep_stats(
                    self.exp,
                    durations=self.judge.durations,
                    slots=self.n_slots,
                    elapsed=time.time() - self.t0,
                )
            except Exception:
                return
        self.progress.update(replace(self._stats, elapsed=time.time() - self.t0))

    # -- a cluster (Ray) ---------------------------------------------------------------------
    def resized(self, busy: set[int]) -> tuple[list[Slot], bool] | None:
        """On a cluster: the free slots once there are as many as it holds trials now
        (nodes join and leave), and whether their number changed; ``None`` off a cluster
        or when it did not answer."""
        if self.cluster is None:
            return None
        try:
            n = cluster_capacity(self.cluster, self.workers or self.sweep.workers)
        except Exception:  # the cluster did not answer: keep the slots as they are
            return None
        if n != self.n_slots:
            self.progress.event(
                f"the cluster now holds {n} trial{'s' if n != 1 else ''} at a time "
                f"(was {self.n_slots}; {self.cluster.nodes()} nodes)"
            )
        changed, self.n_slots = n != self.n_slots, n
        return [Slot(i, label="ray") for i in range(n) if i not in busy], changed

    # -- the database unavailable ------------------------------------------------------------
    def try_again(self) -> list[Slot]:
        """Write what waits (reports, heartbeats, trial ends); when it all works the outage
        is over. Returns the slots freed."""
        try:
            self.exp.flush()
            self.exp.heartbeat(list(self.pool.running))
        except StorageUnavailableError as e:
            self.guard.failed(e.cause)
            return []
        freed, ok = self.pool.settle_all()
        if not ok:
            return freed
        self.guard.worked()
        self.outage_ended_at = time.time()
        return freed

    def give_up(self, *, kill_now: Callable[[], bool]) -> StorageUnavailableError:
        """Stop every running trial; the error that says what is kept and what to do."""
        n = len(self.pool.running)
        waiting = self.exp.drop_waiting_reports()  # they cannot be written: no try at exit
        for _ in self.pool.stop_all(kill_now=kill_now):
            pass
        message = (
            f"storage {self.exp.storage.shown_url}: unavailable for "
            f"{self.guard.seconds():.0f}s ({self.guard.cause}); stopped {n} running "
            f"trial{'s' if n != 1 else ''} ({waiting} reports could not be written); what "
            "is stored is kept: relaunch the same command when the database is back, it "
            "runs the stopped trials again (storage_timeout sets how long to wait)"
        )
        self.progress.event(f"error: {message}")
        return StorageUnavailableError(
            message, transient=Transient.UNAVAILABLE, cause=self.guard.cause
        )
