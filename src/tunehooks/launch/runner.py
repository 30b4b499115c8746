"""The worker pool behind ``tunehooks launch``: one trial process per slot, until the budget is spent.

Each slot asks the experiment for a trial, starts the sweep's command for it
(argv, no shell) with ``TUNEHOOKS_STORAGE`` / ``TUNEHOOKS_EXPERIMENT`` /
``TUNEHOOKS_TRIAL_ID`` and the slot's ``CUDA_VISIBLE_DEVICES``, keeps its
stdout/stderr in ``runs/<experiment>/<trial id>/``, and turns printed
``tunehooks:`` lines into reports. A STOP decision terminates the process
group (SIGTERM, SIGKILL after a grace period) and prunes the trial; a non-zero
exit fails it with the stderr tail and queues a retry per ``on_failure`` (never
for a configuration error); too many failures stop the sweep from starting
trials (:mod:`tunehooks.launch.policy`). The launcher heartbeats its running
trials; a relaunch reclaims trials whose worker vanished, after ending any
process of theirs still running. While the database is unavailable the trials
go on and their reports wait in memory (:mod:`tunehooks.launch.outage`).
SIGINT/SIGTERM stop cleanly: running trials are failed with "interrupted" and
queued again, so the next launch runs them first.

The next trial is asked for in a background thread (:mod:`tunehooks.launch.asker`:
a GP fit takes seconds), so output is read and heartbeats are written meanwhile.
Trials run through an executor (:mod:`tunehooks.launch.executors`): processes of
this machine, or Ray actors on a cluster (``--executor ray``), whose capacity
then makes the slots (:mod:`tunehooks.launch.placement`).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tunehooks.checkpoint import ENV_CHECKPOINT_DIR
from tunehooks.experiment import Experiment
from tunehooks.launch._loop import Every, LoopState, install_stop_handlers
from tunehooks.launch._schema import SweepError
from tunehooks.launch.asker import Asked, Asker, in_memory_url
from tunehooks.launch.checks import program_problem
from tunehooks.launch.devices import Slot
from tunehooks.launch.ending import nothing_to_run, requeue_failed
from tunehooks.launch.executors import Executor
from tunehooks.launch.judge import LaunchResult, TrialJudge
from tunehooks.launch.outage import StorageGuard
from tunehooks.launch.placement import on_ray, on_this_machine
from tunehooks.launch.pool import TrialPool, guarded
from tunehooks.launch.process import ENV_RUN_DIR, safe_name
from tunehooks.launch.progress import LogProgress, ProgressSink
from tunehooks.launch.recovery import pause_if_resumable
from tunehooks.launch.sweep import MAX_WORKERS
from tunehooks.launch.upkeep import Upkeep
from tunehooks.storage import StorageUnavailableError
from tunehooks.trial import TrialState

if TYPE_CHECKING:
    from tunehooks.launch.executors.ray_cluster import RayExecutor
    from tunehooks.launch.sweep import Sweep
    from tunehooks.schedulers import Scheduler

__all__ = ["ENV_RUN_DIR", "LaunchResult", "Launcher"]

_OP_RETRY = 2.0  # seconds one storage call of the launcher retries before the loop goes on
_ASK_WAIT = 60.0  # seconds a stopping launcher waits for an ask still running
EXECUTORS = ("local", "ray")


class Launcher:
    """Runs a sweep's trials as processes on the machine's worker slots.

    Example:
        >>> import tunehooks.launch as tl
        >>> sweep = tl.parse_sweep({"name": "doc-launch", "command": ["true"],
        ...     "method": "random", "metric": {"name": "y", "goal": "maximize"},
        ...     "parameters": {"x": {"min": 0.0, "max": 1.0}}, "run_cap": 1})
        >>> launcher = Launcher(sweep, storage="sqlite://", runs_dir="/tmp/tunehooks-doc-runs")
        >>> launcher.sweep.name
        'doc-launch'
    """

    def __init__(
        self,
        sweep: Sweep,
        *,
        storage: str | None = None,
        workers: int | None = None,
        runs_dir: str | os.PathLike[str] = "runs",
        scheduler: Scheduler | None = None,
        progress: ProgressSink | None = None,
        stop_grace: float = 10.0,
        heartbeat_interval: float = 10.0,
        stale_after: float = 90.0,
        poll_interval: float = 0.1,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        retry_failed: bool = False,
        storage_timeout: float | None = None,
        executor: str | None = None,
        address: str | None = None,
    ) -> None:
        if workers is not None and not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"--workers: must be between 1 and {MAX_WORKERS} (got {workers})")
        self.sweep = sweep
        self.storage = storage
        self.workers = workers
        self.runs_dir = Path(runs_dir)
        self.scheduler = scheduler
        self.progress = progress or LogProgress()
        self.stop_grace = float(stop_grace)
        self.heartbeat_interval = float(heartbeat_interval)
        self.stale_after = float(stale_after)
        self.poll_interval = float(poll_interval)
        self.env = dict(os.environ if env is None else env)
        if sweep.checkpoint_dir is not None and not self.env.get(ENV_CHECKPOINT_DIR):
            self.env[ENV_CHECKPOINT_DIR] = str(sweep.checkpoint_dir)  # the environment's wins
        self.cwd = None if cwd is None else str(cwd)
        self.retry_failed = bool(retry_failed)
        self.executor = executor or sweep.executor
        if self.executor not in EXECUTORS:
            where = "--executor" if executor else "resources.executor"
            raise SweepError(
                f"{where}: {self.executor!r} is not an executor; use {' or '.join(EXECUTORS)}"
            )
        self.address = address
        self._cluster: RayExecutor | None = None
        self._asking: Slot | None = None
        self.storage_timeout = float(
            sweep.storage_timeout if storage_timeout is None else storage_timeout
        )
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self._stop_signal: int | None = None
        self._kill_now = False
        self._t0 = time.time()
        self._guard = StorageGuard(self.storage_timeout, self.progress.event)

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> LaunchResult:
        """Run trials until the budget is spent (or a stop signal, or too many failures);
        return the totals. Raises :class:`~tunehooks.storage.StorageUnavailableError`
        when the database stayed unavailable for ``storage_timeout`` seconds."""
        problem = program_problem(self.sweep, self.cwd)
        if problem is not None:
            raise SweepError(problem)
        exp = self.sweep.open_experiment(storage=self.storage, scheduler=self.scheduler)
        self.exp = exp
        self._judge = TrialJudge(
            exp,
            self.sweep,
            self.progress.event,
            lambda: len(self._pool.running),
            resume=lambda tid, why: pause_if_resumable(
                exp, tid, why, runs_dir=self.runs_dir, env=self.env
            ),
        )
        exp.storage_timeout = self.storage_timeout
        saved_timeout = exp.storage.retry_timeout
        exp.storage.retry_timeout = min(saved_timeout, _OP_RETRY)  # the loop never waits long
        twin = None
        if not in_memory_url(exp.storage.url):  # the ask thread's own handle
            twin = Experiment.load(exp.name, storage=exp.storage.url, scheduler=self.scheduler)
            twin.storage.retry_timeout = exp.storage.retry_timeout
        self._asker = Asker(exp, twin=twin)
        self._pool = TrialPool(
            exp,
            self.sweep,
            self._judge,
            self._guard,
            say=self.progress.event,
            runs_dir=self.runs_dir,
            env=self.env,
            cwd=self.cwd,
            stop_grace=self.stop_grace,
            poll_interval=self.poll_interval,
        )
        self._upkeep = Upkeep(
            self._pool,
            self.progress,
            worker_id=self.worker_id,
            stale_after=self.stale_after,
            t0=self._t0,
        )
        try:
            return self._run()
        finally:
            exp.storage.retry_timeout = saved_timeout
            if twin is not None:
                twin.storage.close()

    def _run(self) -> LaunchResult:
        self._upkeep.reclaim()
        if self.retry_failed:
            requeue_failed(self.exp, self.progress.event)
        slots = self._place()
        restore = install_stop_handlers(self._on_signal)
        gave_up: StorageUnavailableError | None = None
        try:
            state = LoopState(
                free=list(slots),
                beat=Every(self.heartbeat_interval),
                reclaim=Every(self.stale_after / 3),
            )
            gave_up = self._loop(state)
        finally:
            self._wind_down(gave_up)
            restore()
            self._executor.close()
            if gave_up is None:
                self._upkeep.update_stats()
            self.progress.close()
        if gave_up is not None:
            raise gave_up
        if self._judge.halted is not None:
            self.progress.event(self._judge.halt_message())
        return self._result()

    def _place(self) -> list[Slot]:
        """The slots and their executor (the pool's and its upkeep's); what they are is
        said at start."""
        workers = self.workers or self.sweep.workers
        logs = self.runs_dir / safe_name(self.exp.name)
        if self.executor == "ray":
            placed = on_ray(self.sweep, self.exp, workers=workers, address=self.address, logs=logs)
        else:
            placed = on_this_machine(
                self.sweep,
                self.exp,
                workers=workers,
                env=self.env,
                grace=self.stop_grace,
                logs=logs,
            )
        self._executor: Executor = placed.executor
        self._cluster = placed.cluster
        self._pool.place(placed.executor, hide_gpus=placed.has_gpus, pci_order=placed.pci_order)
        self._upkeep.n_slots, self._upkeep.cluster = len(placed.slots), placed.cluster
        self._upkeep.workers = workers
        for line in placed.lines:
            self.progress.event(line)
        return placed.slots

    def _loop(self, s: LoopState) -> StorageUnavailableError | None:
        """One pass: start trials on free slots, read output, write ends, keep timers.
        Returns the error to raise when the database stayed unavailable too long."""
        while self._stop_signal is None:
            self._start_trials(s)
            if s.changed and not self._guard.down:
                self._upkeep.update_stats()
                s.changed = False
                s.stats.last = time.time()
            if self._all_done(s):
                return None
            self._watch(s)
            if self._guard.down:
                if self._outage_step(s):
                    return self._upkeep.give_up(kill_now=lambda: self._kill_now)
                continue
            self._timers(s)
        return None

    def _start_trials(self, s: LoopState) -> None:
        """Start the trial an ask answered; ask for the next while a slot is free. The ask
        runs in the background: the loop goes on meanwhile."""
        while True:
            answer = self._asker.take()
            if answer is not None:
                self._use_answer(s, answer)
            if self._asker.busy or not (s.free and s.more and self._can_start()):
                return
            self._ask_for(s.free[0])
            if self._guard.down:
                return

    def _ask_for(self, slot: Slot) -> None:
        guarded(self._guard, self.exp.flush)  # the ask sees every report read so far
        if not self._guard.down:
            self._asking = slot
            self._asker.submit(slot, worker_id=self._slot_id(slot))

    def _use_answer(self, s: LoopState, answer: Asked) -> None:
        self._asking = None
        if answer.error is not None:
            if isinstance(answer.error, StorageUnavailableError):
                self._guard.failed(answer.error.cause)
                return
            raise answer.error
        trial = answer.trial
        if trial is None:
            s.more = False
            if self._pool.started == 0 and not self._pool.running:
                history = guarded(self._guard, lambda: self.exp.get_trials(with_reports=False))
                if history is not None:
                    self.progress.event(nothing_to_run(history, self.sweep))
            return
        if self._stop_signal is not None:
            self._pool.put_back(trial)  # the launcher stops: put back, not started
            return
        # a sweep that halted (too many failures) while the trial was asked for still runs
        # it, as a trial already started does (it was asked for before the halt)
        if self._pool.start_or_fail(answer.slot, trial) and answer.slot in s.free:
            s.free.remove(answer.slot)

    def _all_done(self, s: LoopState) -> bool:
        """Nothing runs, nothing waits to be written, and nothing more will start."""
        pool = self._pool
        idle = not pool.running and not pool.ended and not self._guard.down and not self._asker.busy
        return idle and (not s.more or self._judge.halted is not None)

    def _watch(self, s: LoopState) -> None:
        """Read the trials' output; write the ends of those that exited (their slots free)."""
        finished = self._pool.poll()
        if finished:
            s.free.extend(finished)
            s.free.sort(key=lambda slot: slot.index)
            s.more = s.changed = True
            self._resize(s)

    def _outage_step(self, s: LoopState) -> bool:
        """While the database is unavailable: try again when due; True once it is too late."""
        if self._guard.due():
            s.free.extend(self._upkeep.try_again())
            s.free.sort(key=lambda slot: slot.index)
            s.more = s.changed = True
        return self._guard.expired()

    def _timers(self, s: LoopState) -> None:
        now = time.time()
        if s.beat.due(now):
            self._upkeep.heartbeat()
        if s.reclaim.due(now):
            s.more = self._upkeep.reclaim() or s.more  # another host died: run its trials here
        if s.stats.due(now):
            self._upkeep.update_stats(cheap=True)
        if self._cluster is not None and s.resize.due(now):
            self._resize(s)

    def _resize(self, s: LoopState) -> None:
        """On a cluster: as many slots as it holds trials now (nodes join and leave)."""
        busy = self._pool.busy_slots()
        if self._asking is not None:
            busy.add(self._asking.index)
        resized = self._upkeep.resized(busy)
        if resized is not None:
            s.free, changed = resized
            s.more = s.more or changed

    def _wind_down(self, gave_up: StorageUnavailableError | None) -> None:
        """The loop ended (or raised): stop what still runs, put back an unused ask."""
        if (self._pool.running or self._pool.ended) and gave_up is None:
            why = (
                f"interrupted: the launcher got {signal.Signals(self._stop_signal).name}"
                if self._stop_signal is not None
                else f"interrupted: the launcher stopped ({sys.exc_info()[1]!r})"
            )
            self._pool.shutdown(why, kill_now=lambda: self._kill_now)
        deadline = time.time() + _ASK_WAIT
        while self._asker.busy and not self._kill_now and time.time() < deadline:
            answer = self._asker.wait(0.2)
            if answer is not None and answer.trial is not None:
                self._pool.put_back(answer.trial)

    def _result(self) -> LaunchResult:
        exp = self.exp
        c = exp.count_trials()
        best = None if len(exp.objectives) > 1 else exp.best
        return LaunchResult(
            experiment=exp.name,
            started=self._pool.started,
            completed=c[TrialState.COMPLETED],
            pruned=c[TrialState.PRUNED],
            failed=c[TrialState.FAILED],
            interrupted=self._stop_signal is not None,
            reclaimed=self._upkeep.reclaimed,
            best=best,
            halted=self._judge.halted,
        )

    def _slot_id(self, slot: Slot) -> str:
        return f"{self.worker_id}/{slot.index}"

    def _can_start(self) -> bool:
        return self._stop_signal is None and self._judge.halted is None and not self._guard.down

    def _on_signal(self, signum: int) -> None:
        if self._stop_signal is not None:  # a second signal: kill at once
            self._kill_now = True
        self._stop_signal = signum
