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
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tunehooks.launch._schema import SweepError
from tunehooks.launch.checks import program_problem
from tunehooks.launch.clients import client_env
from tunehooks.launch.devices import Slot, detect_gpus, make_slots
from tunehooks.launch.ending import nothing_to_run, requeue_failed
from tunehooks.launch.judge import LaunchResult, RunningTrial, TrialJudge
from tunehooks.launch.macros import MacroContext, expand_command, shell_warning
from tunehooks.launch.outage import StorageGuard
from tunehooks.launch.output import OutputParser
from tunehooks.launch.policy import CONFIG_PREFIX
from tunehooks.launch.process import ENV_RUN_DIR, TrialProcess, safe_name, trial_env
from tunehooks.launch.progress import LogProgress, ProgressSink, SweepStats, sweep_stats
from tunehooks.launch.recovery import (
    end_leftover_processes,
    pause_if_resumable,
    reclaim_stale_trials,
    write_process_file,
)
from tunehooks.launch.sweep import MAX_WORKERS
from tunehooks.launch.watchdog import Watchdog
from tunehooks.storage import StorageUnavailableError
from tunehooks.storage._retry import Transient
from tunehooks.trial import Decision, Trial, TrialState, TrialStateError

if TYPE_CHECKING:
    from tunehooks.launch.sweep import Sweep
    from tunehooks.schedulers import Scheduler

__all__ = ["ENV_RUN_DIR", "LaunchResult", "Launcher"]

T = TypeVar("T")
_STDERR_TAIL = 2000
_MAX_WARNINGS = 20  # malformed-line warnings shown per trial
_OP_RETRY = 2.0  # seconds one storage call of the launcher retries before the loop goes on


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
        self.cwd = None if cwd is None else str(cwd)
        self.retry_failed = bool(retry_failed)
        self.storage_timeout = float(
            sweep.storage_timeout if storage_timeout is None else storage_timeout
        )
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self._running: dict[int, RunningTrial] = {}
        self._ended: list[RunningTrial] = []  # exited, their end not yet written (database down)
        self._sel = selectors.DefaultSelector()
        self._stop_signal: int | None = None
        self._kill_now = False
        self._started = 0
        self._reclaimed = 0
        self._stats: SweepStats | None = None
        self._n_slots = 1
        self._t0 = time.time()
        self._has_gpus = False
        self._guard = StorageGuard(self.storage_timeout, self.progress.event)
        self._outage_ended_at = 0.0
        self._watchdog: Watchdog | None = None

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
        self._judge = TrialJudge(exp, self.sweep, self.progress.event, lambda: len(self._running))
        exp.storage_timeout = self.storage_timeout
        saved_timeout = exp.storage.retry_timeout
        exp.storage.retry_timeout = min(saved_timeout, _OP_RETRY)  # the loop never waits long
        try:
            return self._run(exp)
        finally:
            exp.storage.retry_timeout = saved_timeout

    def _run(self, exp: Any) -> LaunchResult:
        self._reclaim()
        if self.retry_failed:
            requeue_failed(self.exp, self.progress.event)
        gpus = list(self.sweep.devices) if self.sweep.devices is not None else detect_gpus(self.env)
        self._has_gpus = bool(gpus)
        slots, note = make_slots(
            workers=self.workers or self.sweep.workers,
            gpus_per_trial=self.sweep.gpus_per_trial,
            devices=gpus,
        )
        self._n_slots = len(slots)
        if note:
            self.progress.event(note)
        self.progress.event(
            f"sweep {exp.name}: {len(slots)} worker{'s' if len(slots) > 1 else ''} "
            f"({', '.join(s.describe() for s in slots)}), storage {exp.storage.shown_url}, "
            f"logs in {self.runs_dir / safe_name(exp.name)}/"
        )
        warning = shell_warning(self.sweep.command)
        if warning:
            self.progress.event(warning)
        self._watchdog = Watchdog(grace=self.stop_grace)
        restore = self._install_signal_handlers()
        free = list(slots)
        more = changed = True
        last_beat = last_stats = last_reclaim = time.time()
        gave_up: StorageUnavailableError | None = None
        try:
            while self._stop_signal is None:
                while free and more and self._can_start():
                    trial = self._guarded(lambda: exp.ask(worker_id=self._slot_id(free[0])))
                    if self._guard.down:
                        break
                    if trial is None:
                        more = False
                        if self._started == 0 and not self._running:
                            self.progress.event(
                                nothing_to_run(
                                    self.exp.storage.get_trials(self.exp.id, with_reports=False),
                                    self.sweep,
                                )
                            )
                    elif self._start_or_fail(free[0], trial):
                        free.pop(0)
                if changed and not self._guard.down:
                    self._update_stats()
                    changed = False
                    last_stats = time.time()
                idle = not self._running and not self._ended and not self._guard.down
                if idle and (not more or self._judge.halted is not None):
                    break
                finished = self._poll()
                if finished:
                    free.extend(finished)
                    free.sort(key=lambda s: s.index)
                    more = changed = True
                now = time.time()
                if self._guard.down:
                    if self._guard.due():
                        free.extend(self._try_again())
                        free.sort(key=lambda s: s.index)
                        more = changed = True
                    if self._guard.expired():
                        gave_up = self._give_up()
                        break
                    continue
                if now - last_beat >= self.heartbeat_interval:
                    self._heartbeat()
                    last_beat = now
                if now - last_reclaim >= self.stale_after / 3:
                    more = self._reclaim() or more  # another host died: run its trials here
                    last_reclaim = now
                if now - last_stats >= 1.0:
                    self._update_stats(cheap=True)
                    last_stats = now
        finally:
            if (self._running or self._ended) and gave_up is None:
                why = (
                    f"interrupted: the launcher got {signal.Signals(self._stop_signal).name}"
                    if self._stop_signal is not None
                    else f"interrupted: the launcher stopped ({sys.exc_info()[1]!r})"
                )
                self._shutdown(why)
            restore()
            if self._watchdog is not None:
                self._watchdog.close()
            if gave_up is None:
                self._update_stats()
            self.progress.close()
        if gave_up is not None:
            raise gave_up
        if self._judge.halted is not None:
            self.progress.event(self._judge.halt_message())
        c = exp.storage.count_trials(exp.id)
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

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def handler(signum: int, _frame: Any) -> None:
            if self._stop_signal is not None:
                self._kill_now = True
            self._stop_signal = signum

        signals = [signal.SIGINT, signal.SIGTERM]
        if hasattr(signal, "SIGHUP"):  # the terminal closed
            signals.append(signal.SIGHUP)
        old = {s: signal.signal(s, handler) for s in signals}

        def restore() -> None:
            for s, h in old.items():
                signal.signal(s, h)

        return restore

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
        run_dir = self.runs_dir / safe_name(exp.name) / str(trial.id)
        run_dir.mkdir(parents=True, exist_ok=True)
        params_file = run_dir / "params.json"
        params_file.write_text(
            json.dumps(self.sweep.layout.program_params(trial.params), indent=1, sort_keys=True)
        )
        ctx = MacroContext(
            params=trial.params,
            experiment=exp.name,
            trial_id=trial.id,
            trial_number=trial.number,
            program=self.sweep.program_path,
            fidelity=trial.fidelity,
            task=self._task(trial.fidelity),
            run_dir=str(run_dir),
            args_json_file=str(params_file),
            layout=self.sweep.layout,
        )
        argv = expand_command(self.sweep.command, ctx)
        env = trial_env(
            self.env,
            storage=exp.storage.url,
            experiment=exp.name,
            trial_id=trial.id,
            run_dir=run_dir,
            gpus=slot.gpus,
            hide_gpus=self._has_gpus,
        )
        env.update(client_env(self.sweep, env, trial.params, run_dir, ctx.task))
        (run_dir / "command.json").write_text(
            json.dumps({"argv": argv, "slot": slot.describe(), "trial": trial.number}, indent=1)
        )
        try:
            process = TrialProcess(argv, env=env, cwd=self.cwd, run_dir=run_dir)
        except OSError as e:
            error = f"{CONFIG_PREFIX}could not start the command {argv[0]!r}: {e}; check `command:`"
            self._guarded(lambda: trial.fail(error))
            self.progress.event(f"trial {trial.number} FAILED: cannot start {argv[0]!r}: {e}")
            self._started += 1
            self._judge.note_end(failed=True, error=error)
            return False
        if self._watchdog is not None:
            self._watchdog.watch(process.pgid)
        write_process_file(run_dir, process.pid)
        names = [m.name for m in exp.metrics]
        p = RunningTrial(slot, trial, process, OutputParser(final_names=names), time.time())
        self._sel.register(process.stdout, selectors.EVENT_READ, p)
        self._running[trial.id] = p
        self._started += 1
        params = json.dumps(trial.params, default=str)
        fid = "" if trial.fidelity is None else f" fidelity={trial.fidelity:g}"
        if ctx.task:  # tasks keep their names
            fid = f" task={ctx.task}"
        self.progress.event(f"trial {trial.number} started on {slot.describe()}{fid}: {params}")
        return True

    def _task(self, fidelity: float | None) -> str | None:
        task = None if self.sweep.fidelity is None else self.sweep.fidelity.task(fidelity)
        return None if task is None else task.name

    # -- watching ----------------------------------------------------------------------------
    def _poll(self) -> list[Slot]:
        for key, _ in self._sel.select(timeout=self.poll_interval):
            self._read(key.data)
        now = time.time()
        for p in list(self._running.values()):
            p.process.tick(now)
            rc = p.process.poll()
            if rc is not None:
                self._end(p)
                p.rc, p.duration = rc, now - p.started
                self._ended.append(p)
        return self._settle() if not self._guard.down else []

    def _read(self, p: RunningTrial) -> None:
        for line in p.process.read_lines():
            self._line(p, line)
        if p.process.eof:
            self._unregister(p)

    def _unregister(self, p: RunningTrial) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(p.process.stdout)

    def _end(self, p: RunningTrial) -> None:
        """Read the rest of a process that ended and forget it."""
        for line in p.process.drain():
            self._line(p, line)
        self._unregister(p)
        p.process.close()
        if self._watchdog is not None:
            self._watchdog.forget(p.process.pgid)
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
        if report is None or p.stopping or p.interrupted:
            return
        try:
            decision = p.trial.report(report.step, report.metrics)
        except (TrialStateError, ValueError) as e:
            self.progress.event(f"trial {p.trial.number}: report ignored: {e}")
            return
        except StorageUnavailableError as e:  # waited storage_timeout: the loop gives up
            self._guard.failed(e.cause)
            return
        buf = self.exp._buffers.get(p.trial.id)
        if buf is not None and buf.failing_since is not None:  # the report waits in memory
            self._guard.failed(buf.failure)
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
        for p in list(self._running.values()):
            p.interrupted = True
            p.process.terminate(self.stop_grace)
        while self._running:
            for key, _ in self._sel.select(timeout=self.poll_interval):
                self._read(key.data)
            for p in list(self._running.values()):
                if self._kill_now:
                    p.process.signal(signal.SIGKILL)
                p.process.tick(time.time())
                rc = p.process.poll()
                if rc is None:
                    continue
                self._end(p)
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

    def _interrupted(self, p: RunningTrial, reason: str) -> None:
        if p.trial.refresh().state is not TrialState.RUNNING:
            return
        if pause_if_resumable(self.exp, p.trial.id, reason, runs_dir=self.runs_dir) is not None:
            self.progress.event(
                f"trial {p.trial.number} interrupted; it resumes from its checkpoint"
            )
            return
        try:
            p.trial.fail(reason)
        except TrialStateError:
            return
        retry = self.exp.storage.requeue(p.trial.id)
        self.progress.event(
            f"trial {p.trial.number} interrupted; queued again as trial {retry.number}"
        )

    # -- the database ------------------------------------------------------------------------
    def _try_again(self) -> list[Slot]:
        """While the database is unavailable: write what waits (reports, heartbeats, trial
        ends); when it all works the outage is over. Returns the slots freed."""
        try:
            self.exp._flush_all()
            self.exp.storage.heartbeat([p.trial.id for p in self._running.values()])
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
        waiting = sum(len(b.pending) for b in self.exp._buffers.values())
        self.exp._buffers.clear()  # they cannot be written: do not wait at exit to try
        for p in list(self._running.values()):
            p.interrupted = True
            p.process.terminate(self.stop_grace)
        while self._running:
            for key, _ in self._sel.select(timeout=self.poll_interval):
                self._read(key.data)
            for p in list(self._running.values()):
                p.process.tick(time.time())
                if p.process.poll() is not None:
                    self._end(p)
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
            found = reclaim_stale_trials(
                self.exp,
                stale_after=self.stale_after,
                retries=self.sweep.retries,
                own=self.worker_id,
                by_heartbeat=not after_outage,
                runs_dir=self.runs_dir,
            )
        except StorageUnavailableError as e:
            self._guard.failed(e.cause)
            return False
        for r in found:
            run_dir = self.runs_dir / safe_name(self.exp.name) / str(r.trial.id)
            left = end_leftover_processes(run_dir, grace=min(self.stop_grace, 5.0))
            if left:
                self.progress.event(
                    f"trial {r.trial.number}: {len(left)} of its old processes were still "
                    f"running (pids {', '.join(map(str, left[:5]))}); ended them before a new "
                    "copy starts"
                )
            again = f"; queued again as trial {r.retry.number}" if r.retry else ""
            self.progress.event(f"trial {r.trial.number} reclaimed ({r.reason}){again}")
        self._reclaimed += len(found)
        return bool(found)

    def _heartbeat(self) -> None:
        self._guarded(
            lambda: self.exp.storage.heartbeat([p.trial.id for p in self._running.values()])
        )

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
