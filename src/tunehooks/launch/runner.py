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

import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from tunehooks.checkpoint import ENV_CHECKPOINT_DIR
from tunehooks.experiment import Experiment
from tunehooks.launch._loop import Every, LoopState, install_stop_handlers
from tunehooks.launch._schema import SweepError
from tunehooks.launch.asker import Asked, Asker, in_memory_url
from tunehooks.launch.checks import program_problem
from tunehooks.launch.devices import Slot
from tunehooks.launch.ending import nothing_to_run, requeue_failed
from tunehooks.launch.executors import Executor
from tunehooks.launch.judge import LaunchResult, RunningTrial, TrialJudge
from tunehooks.launch.outage import StorageGuard
from tunehooks.launch.output import OutputParser
from tunehooks.launch.placement import cluster_capacity, on_ray, on_this_machine
from tunehooks.launch.policy import CONFIG_PREFIX
from tunehooks.launch.process import ENV_RUN_DIR, safe_name
from tunehooks.launch.progress import LogProgress, ProgressSink, SweepStats, sweep_stats
from tunehooks.launch.recovery import pause_if_resumable, reclaim_and_say
from tunehooks.launch.starting import prepare_start
from tunehooks.launch.sweep import MAX_WORKERS
from tunehooks.storage import StorageUnavailableError
from tunehooks.storage._retry import Transient
from tunehooks.trial import Decision, Trial, TrialState, TrialStateError

if TYPE_CHECKING:
    from tunehooks.launch.executors.ray_cluster import RayExecutor
    from tunehooks.launch.sweep import Sweep
    from tunehooks.schedulers import Scheduler

__all__ = ["ENV_RUN_DIR", "LaunchResult", "Launcher"]

T = TypeVar("T")
_STDERR_TAIL = 2000
_MAX_WARNINGS = 20  # malformed-line warnings shown per trial
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
        self._running: dict[int, RunningTrial] = {}
        self._ended: list[RunningTrial] = []  # exited, their end not yet written (database down)
        self._stop_signal: int | None = None
        self._kill_now = False
        self._started = 0
        self._reclaimed = 0
        self._stats: SweepStats | None = None
        self._n_slots = 1
        self._t0 = time.time()
        self._has_gpus = False
        self._pci_order = False
        self._guard = StorageGuard(self.storage_timeout, self.progress.event)
        self._outage_ended_at = 0.0

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
            lambda: len(self._running),
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
        try:
            return self._run()
        finally:
            exp.storage.retry_timeout = saved_timeout
            if twin is not None:
                twin.storage.close()

    def _run(self) -> LaunchResult:
        self._reclaim()
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
                self._update_stats()
            self.progress.close()
        if gave_up is not None:
            raise gave_up
        if self._judge.halted is not None:
            self.progress.event(self._judge.halt_message())
        return self._result()

    def _place(self) -> list[Slot]:
        """The slots, their executor; what they are is said at start."""
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
        self._has_gpus, self._pci_order = placed.has_gpus, placed.pci_order
        self._n_slots = len(placed.slots)
        for line in placed.lines:
            self.progress.event(line)
        return placed.slots

    def _loop(self, s: LoopState) -> StorageUnavailableError | None:
        """One pass: start trials on free slots, read output, write ends, keep timers.
        Returns the error to raise when the database stayed unavailable too long."""
        while self._stop_signal is None:
            self._start_trials(s)
            if s.changed and not self._guard.down:
                self._update_stats()
                s.changed = False
                s.stats.last = time.time()
            if self._all_done(s):
                return None
            self._watch(s)
            if self._guard.down:
                if self._outage_step(s):
                    return self._give_up()
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
        self._guarded(self.exp.flush)  # the ask sees every report read so far
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
            if self._started == 0 and not self._running:
                history = self._guarded(lambda: self.exp.get_trials(with_reports=False))
                if history is not None:
                    self.progress.event(nothing_to_run(history, self.sweep))
            return
        if self._stop_signal is not None:
            self._unused(trial)  # the launcher stops: put back, not started
            return
        # a sweep that halted (too many failures) while the trial was asked for still runs
        # it, as a trial already started does (it was asked for before the halt)
        if self._start_or_fail(answer.slot, trial) and answer.slot in s.free:
            s.free.remove(answer.slot)

    def _unused(self, trial: Trial) -> None:
        """A trial asked for that will not run here: failed and queued again."""

        def put_back() -> None:
            trial.fail("interrupted: the launcher stopped before starting it")
            retry = self.exp.requeue(trial.id)
            self.progress.event(
                f"trial {trial.number} not started (the launcher stops); queued again as "
                f"trial {retry.number}"
            )

        with contextlib.suppress(TrialStateError):
            self._guarded(put_back)

    def _all_done(self, s: LoopState) -> bool:
        """Nothing runs, nothing waits to be written, and nothing more will start."""
        idle = (
            not self._running and not self._ended and not self._guard.down and not self._asker.busy
        )
        return idle and (not s.more or self._judge.halted is not None)

    def _watch(self, s: LoopState) -> None:
        """Read the trials' output; write the ends of those that exited (their slots free)."""
        finished = self._poll()
        if finished:
            s.free.extend(finished)
            s.free.sort(key=lambda slot: slot.index)
            s.more = s.changed = True
            self._resize(s)

    def _outage_step(self, s: LoopState) -> bool:
        """While the database is unavailable: try again when due; True once it is too late."""
        if self._guard.due():
            s.free.extend(self._try_again())
            s.free.sort(key=lambda slot: slot.index)
            s.more = s.changed = True
        return self._guard.expired()

    def _timers(self, s: LoopState) -> None:
        now = time.time()
        if s.beat.due(now):
            self._heartbeat()
        if s.reclaim.due(now):
            s.more = self._reclaim() or s.more  # another host died: run its trials here
        if s.stats.due(now):
            self._update_stats(cheap=True)
        if self._cluster is not None and s.resize.due(now):
            self._resize(s)

    # -- a cluster (Ray) ---------------------------------------------------------------------
    def _resize(self, s: LoopState) -> None:
        """On a cluster: as many slots as it holds trials now (nodes join and leave)."""
        if self._cluster is None:
            return
        try:
            n = cluster_capacity(self._cluster, self.workers or self.sweep.workers)
        except Exception:  # the cluster did not answer: keep the slots as they are
            return
        if n != self._n_slots:
            self.progress.event(
                f"the cluster now holds {n} trial{'s' if n != 1 else ''} at a time "
                f"(was {self._n_slots}; {self._cluster.nodes()} nodes)"
            )
            self._n_slots = n
            s.more = True
        busy = {p.slot.index for p in [*self._running.values(), *self._ended]}
        if self._asking is not None:
            busy.add(self._asking.index)
        s.free = [Slot(i, label="ray") for i in range(n) if i not in busy]

    def _wind_down(self, gave_up: StorageUnavailableError | None) -> None:
        """The loop ended (or raised): stop what still runs, put back an unused ask."""
        if (self._running or self._ended) and gave_up is None:
            why = (
                f"interrupted: the launcher got {signal.Signals(self._stop_signal).name}"
                if self._stop_signal is not None
                else f"interrupted: the launcher stopped ({sys.exc_info()[1]!r})"
            )
            self._shutdown(why)
        deadline = time.time() + _ASK_WAIT
        while self._asker.busy and not self._kill_now and time.time() < deadline:
            answer = self._asker.wait(0.2)
            if answer is not None and answer.trial is not None:
                self._unused(answer.trial)

    def _result(self) -> LaunchResult:
        exp = self.exp
        c = exp.count_trials()
        best = None if len(exp.objectives) > 1 else exp.best
        return LaunchResult(
            experiment=exp.name,
            started=self._started,
            completed=c[TrialState.COMPLETED],
            pruned=c[TrialState.PRUNED],
            failed=c[TrialState.FAILED],
            interrupted=self._stop_signal is not None,
            reclaimed=self._reclaimed,
            best=best,
            halted=self._judge.halted,
        )

    def _slot_id(self, slot: Slot) -> str:
        return f"{self.worker_id}/{slot.index}"

    def _can_start(self) -> bool:
        return self._stop_signal is None and self._judge.halted is None and not self._guard.down

    def _guarded(self, call: Callable[[], T]) -> T | None:
        """``call()``; ``None`` (and the outage noted) when the database is unavailable."""
        try:
            out = call()
        except StorageUnavailableError as e:
            self._guard.failed(e.cause)
            return None
        return out

    def _on_signal(self, signum: int) -> None:
        if self._stop_signal is not None:  # a second signal: kill at once
            self._kill_now = True
        self._stop_signal = signum

    # -- starting ----------------------------------------------------------------------------
    def _start_or_fail(self, slot: Slot, trial: Trial) -> bool:
        try:
            return self._start(slot, trial)
        except BaseException as e:  # the trial must not stay RUNNING without a process
            if trial.id not in self._running:
                with contextlib.suppress(Exception):
                    trial.fail(f"the launcher could not start it: {e!r}")
            raise

    def _start(self, slot: Slot, trial: Trial) -> bool:
        exp = self.exp
        start = prepare_start(
            exp,
            self.sweep,
            trial,
            slot,
            runs_dir=self.runs_dir,
            base_env=self.env,
            hide_gpus=self._has_gpus,
            pci_order=self._pci_order,
        )
        argv = start.argv
        try:
            process = self._executor.start(argv, env=start.env, cwd=self.cwd, run_dir=start.run_dir)
        except OSError as e:
            error = f"{CONFIG_PREFIX}could not start the command {argv[0]!r}: {e}; check `command:`"
            self._guarded(lambda: trial.fail(error))
            self.progress.event(f"trial {trial.number} FAILED: cannot start {argv[0]!r}: {e}")
            self._started += 1
            self._judge.note_end(failed=True, error=error)
            return False
        names = [m.name for m in exp.metrics]
        p = RunningTrial(slot, trial, process, OutputParser(final_names=names), time.time())
        self._running[trial.id] = p
        self._started += 1
        params = json.dumps(trial.params, default=str)
        fid = "" if trial.fidelity is None else f" fidelity={trial.fidelity:g}"
        if start.task:  # tasks keep their names
            fid = f" task={start.task}"
        self.progress.event(f"trial {trial.number} started on {slot.describe()}{fid}: {params}")
        return True

    # -- watching ----------------------------------------------------------------------------
    def _poll(self) -> list[Slot]:
        self._read_ready()
        now = time.time()
        for p in list(self._running.values()):
            p.process.tick(now)
            rc = p.process.poll()
            if rc is not None:
                self._end(p)
                p.rc, p.duration = rc, now - p.started
                self._ended.append(p)
        return self._settle() if not self._guard.down else []

    def _read_ready(self) -> None:
        """Read the output that is there, waiting up to ``poll_interval`` for some."""
        ready = self._executor.ready(self.poll_interval)
        for p in list(self._running.values()):
            if any(h is p.process for h in ready):
                self._read(p)

    def _read(self, p: RunningTrial) -> None:
        for line in p.process.read_lines():
            self._line(p, line)
        if p.process.eof:
            self._executor.unregister(p.process)

    def _end(self, p: RunningTrial) -> None:
        """Read the rest of a process that ended and forget it."""
        for line in p.process.drain():
            self._line(p, line)
        self._executor.forget(p.process)
        del self._running[p.trial.id]

    def _line(self, p: RunningTrial, line: str) -> None:
        report = p.parser.feed(line)
        for w in p.parser.warnings[p.warned :]:
            p.warned += 1
            if p.warned <= _MAX_WARNINGS:
                self.progress.event(f"trial {p.trial.number}: {w}")
            elif p.warned == _MAX_WARNINGS + 1:
                self.progress.event(
                    f"trial {p.trial.number}: more malformed lines ignored; see "
                    f"{p.process.run_dir / 'stdout.log'}"
                )
        # a report read while the launcher stops is kept, unless nothing can be written
        if report is None or p.stopping or (p.interrupted and self._guard.down):
            return
        try:
            decision = p.trial.report(report.step, report.metrics)
        except (TrialStateError, ValueError) as e:
            self.progress.event(f"trial {p.trial.number}: report ignored: {e}")
            return
        except StorageUnavailableError as e:  # waited storage_timeout: the loop gives up
            self._guard.failed(e.cause)
            return
        failure = self.exp.report_failure(p.trial.id)
        if failure is not None:  # the report waits in memory
            self._guard.failed(failure)
        if decision is Decision.STOP:
            p.stopping = True
            why = "failed" if p.trial.state is TrialState.FAILED else "stopped by the scheduler"
            self.progress.event(f"trial {p.trial.number} {why} at step {report.step}: ending it")
            p.process.terminate(self.stop_grace)

    # -- ending ------------------------------------------------------------------------------
    def _settle(self) -> list[Slot]:
        """Write the ends of the trials that exited; their slots are free once written."""
        return self._settle_all()[0]

    def _settle_all(self) -> tuple[list[Slot], bool]:
        """:meth:`_settle`, and whether every end was written."""
        freed: list[Slot] = []
        for p in list(self._ended):
            try:
                self._judge.finish(p, p.rc if p.rc is not None else 0)
            except StorageUnavailableError as e:
                self._guard.failed(e.cause)
                return freed, False
            self._ended.remove(p)
            freed.append(p.slot)
        return freed, True

    def _shutdown(self, reason: str) -> None:
        n = len(self._running)
        self.progress.event(
            f"stopping {n} running trial{'s' if n != 1 else ''} ({reason}); "
            "send the signal again to kill them at once"
        )
        for p in self._stop_all():
            try:
                self._interrupted(p, reason)
            except StorageUnavailableError:  # it stays RUNNING: a relaunch reclaims it
                self.progress.event(
                    f"trial {p.trial.number} ended; the database is unavailable, a "
                    "relaunch runs it again"
                )
        with contextlib.suppress(StorageUnavailableError):
            for p in list(self._ended):  # ended before the stop, end not yet written
                self._judge.finish(p, p.rc if p.rc is not None else 0)
                self._ended.remove(p)

    def _stop_all(self) -> Iterator[RunningTrial]:
        """Stop every running trial (SIGKILL at once after a second signal); yield each as
        it ends, its output read."""
        for p in list(self._running.values()):
            p.interrupted = True
            p.process.terminate(self.stop_grace)
        while self._running:
            self._read_ready()
            for p in list(self._running.values()):
                if self._kill_now:
                    p.process.kill()
                p.process.tick(time.time())
                if p.process.poll() is not None:
                    self._end(p)
                    yield p

    def _interrupted(self, p: RunningTrial, reason: str) -> None:
        if p.trial.refresh().state is not TrialState.RUNNING:
            return
        paused = pause_if_resumable(
            self.exp, p.trial.id, reason, runs_dir=self.runs_dir, env=self.env
        )
        if paused is not None:
            self.progress.event(
                f"trial {p.trial.number} interrupted; it resumes from its checkpoint"
            )
            return
        try:
            p.trial.fail(reason)
        except TrialStateError:
            return
        retry = self.exp.requeue(p.trial.id)
        self.progress.event(
            f"trial {p.trial.number} interrupted; queued again as trial {retry.number}"
        )

    # -- the database ------------------------------------------------------------------------
    def _try_again(self) -> list[Slot]:
        """While the database is unavailable: write what waits (reports, heartbeats, trial
        ends); when it all works the outage is over. Returns the slots freed."""
        try:
            self.exp.flush()
            self.exp.heartbeat([p.trial.id for p in self._running.values()])
        except StorageUnavailableError as e:
            self._guard.failed(e.cause)
            return []
        freed, ok = self._settle_all()
        if not ok:
            return freed
        self._guard.worked()
        self._outage_ended_at = time.time()
        return freed

    def _give_up(self) -> StorageUnavailableError:
        n = len(self._running)
        waiting = self.exp.drop_waiting_reports()  # they cannot be written: no try at exit
        for _ in self._stop_all():
            pass
        message = (
            f"storage {self.exp.storage.shown_url}: unavailable for "
            f"{self._guard.seconds():.0f}s ({self._guard.cause}); stopped {n} running "
            f"trial{'s' if n != 1 else ''} ({waiting} reports could not be written); what "
            "is stored is kept: relaunch the same command when the database is back, it "
            "runs the stopped trials again (storage_timeout sets how long to wait)"
        )
        self.progress.event(f"error: {message}")
        return StorageUnavailableError(
            message, transient=Transient.UNAVAILABLE, cause=self._guard.cause
        )

    def _reclaim(self) -> bool:
        """Requeue the trials of vanished workers (any host); True when some were. A trial
        of this host whose processes are still running is ended first."""
        after_outage = time.time() - self._outage_ended_at < self.stale_after
        try:
            n = reclaim_and_say(
                self.exp,
                stale_after=self.stale_after,
                retries=self.sweep.retries,
                own=self.worker_id,
                by_heartbeat=not after_outage,
                runs_dir=self.runs_dir,
                grace=min(self.stop_grace, 5.0),
                say=self.progress.event,
                env=self.env,
            )
        except StorageUnavailableError as e:
            self._guard.failed(e.cause)
            return False
        self._reclaimed += n
        return n > 0

    def _heartbeat(self) -> None:
        self._guarded(lambda: self.exp.heartbeat([p.trial.id for p in self._running.values()]))

    def _update_stats(self, *, cheap: bool = False) -> None:
        if not cheap or self._stats is None:
            try:  # progress is best effort: a database hiccup must not end the sweep
                self._stats = sweep_stats(
                    self.exp,
                    durations=self._judge.durations,
                    slots=self._n_slots,
                    elapsed=time.time() - self._t0,
                )
            except Exception:
                return
        self.progress.update(replace(self._stats, elapsed=time.time() - self._t0))
