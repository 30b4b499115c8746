"""The worker pool behind ``tunehooks launch``: one trial process per slot, until the budget is spent.

Each slot asks the experiment for a trial, starts the sweep's command for it
(argv, no shell) with ``TUNEHOOKS_STORAGE`` / ``TUNEHOOKS_EXPERIMENT`` /
``TUNEHOOKS_TRIAL_ID`` and the slot's ``CUDA_VISIBLE_DEVICES``, keeps its
stdout/stderr in ``runs/<experiment>/<trial id>/``, and turns printed
``tunehooks:`` lines into reports. A STOP decision terminates the process
(SIGTERM, SIGKILL after a grace period) and prunes the trial; a non-zero exit
fails it with the stderr tail and queues a retry per ``on_failure``. The
launcher heartbeats its running trials; a relaunch reclaims trials whose
worker vanished. SIGINT/SIGTERM stop cleanly: running trials are failed with
"interrupted" and queued again, so the next launch runs them first.
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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunehooks.launch._schema import SweepError
from tunehooks.launch.devices import Slot, detect_gpus, make_slots
from tunehooks.launch.macros import MacroContext, expand_command
from tunehooks.launch.output import OutputParser
from tunehooks.launch.process import ENV_RUN_DIR, TrialProcess, safe_name, trial_env
from tunehooks.launch.progress import LogProgress, ProgressSink, SweepStats, sweep_stats
from tunehooks.launch.recovery import reclaim_stale_trials
from tunehooks.trial import Decision, Trial, TrialRecord, TrialState, TrialStateError

if TYPE_CHECKING:
    from tunehooks.launch.sweep import Sweep
    from tunehooks.schedulers import Scheduler

__all__ = ["ENV_RUN_DIR", "LaunchResult", "Launcher"]

_STDERR_TAIL = 2000


@dataclass(frozen=True)
class LaunchResult:
    """What one launch did: trials it started, totals of the experiment, the best trial.

    Example:
        >>> LaunchResult("e", started=2, completed=2, pruned=0, failed=0, interrupted=False,
        ...              reclaimed=0, best=None).interrupted
        False
    """

    experiment: str
    started: int
    completed: int
    pruned: int
    failed: int
    interrupted: bool
    reclaimed: int
    best: TrialRecord | None


@dataclass
class _Running:
    slot: Slot
    trial: Trial
    process: TrialProcess
    parser: OutputParser
    started: float
    stopping: bool = False
    interrupted: bool = False
    warned: int = 0


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
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"--workers: must be >= 1 (got {workers})")
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
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self._running: dict[int, _Running] = {}
        self._sel = selectors.DefaultSelector()
        self._stop_signal: int | None = None
        self._kill_now = False
        self._started = 0
        self._reclaimed = 0
        self._durations: list[float] = []
        self._stats: SweepStats | None = None
        self._n_slots = 1
        self._t0 = time.time()
        self._has_gpus = False

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> LaunchResult:
        """Run trials until the budget is spent (or a stop signal); return the totals."""
        program = self.sweep.program_path
        uses_program = any("${program}" in c for c in self.sweep.command)
        where = program if self.cwd is None or program is None else os.path.join(self.cwd, program)
        if program is not None and uses_program and not os.path.exists(str(where)):
            raise SweepError(
                f"program: {program!r} not found (a relative program is looked up from the "
                "sweep file's folder)"
            )
        exp = self.sweep.open_experiment(storage=self.storage, scheduler=self.scheduler)
        self.exp = exp
        self._reclaim()
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
            f"({', '.join(s.describe() for s in slots)}), storage {exp.storage.url}, "
            f"logs in {self.runs_dir / safe_name(exp.name)}/"
        )
        restore = self._install_signal_handlers()
        free = list(slots)
        more = changed = True
        last_beat = last_stats = last_reclaim = time.time()
        try:
            while self._stop_signal is None:
                while free and more and self._stop_signal is None:
                    trial = exp.ask(worker_id=f"{self.worker_id}/{free[0].index}")
                    if trial is None:
                        more = False
                    elif self._start_or_fail(free[0], trial):
                        free.pop(0)
                if changed:
                    self._update_stats()
                    changed = False
                    last_stats = time.time()
                if not self._running:
                    break
                finished = self._poll()
                if finished:
                    free.extend(finished)
                    free.sort(key=lambda s: s.index)
                    more = changed = True
                now = time.time()
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
            if self._running:
                why = (
                    f"interrupted: the launcher got {signal.Signals(self._stop_signal).name}"
                    if self._stop_signal is not None
                    else f"interrupted: the launcher stopped ({sys.exc_info()[1]!r})"
                )
                self._shutdown(why)
            restore()
            self._update_stats()
            self.progress.close()
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
        )

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
        params_file.write_text(json.dumps(trial.params, indent=1, sort_keys=True))
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
        (run_dir / "command.json").write_text(
            json.dumps({"argv": argv, "slot": slot.describe(), "trial": trial.number}, indent=1)
        )
        try:
            process = TrialProcess(argv, env=env, cwd=self.cwd, run_dir=run_dir)
        except OSError as e:
            trial.fail(f"could not start the command {argv[0]!r}: {e}; check `command:`")
            self.progress.event(f"trial {trial.number} FAILED: cannot start {argv[0]!r}: {e}")
            self._started += 1
            return False
        names = [m.name for m in exp.metrics]
        p = _Running(slot, trial, process, OutputParser(final_names=names), time.time())
        self._sel.register(process.stdout, selectors.EVENT_READ, p)
        self._running[trial.id] = p
        self._started += 1
        params = json.dumps(trial.params, default=str)
        fid = "" if trial.fidelity is None else f" fidelity={trial.fidelity:g}"
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
        finished = []
        for p in list(self._running.values()):
            p.process.tick(now)
            rc = p.process.poll()
            if rc is not None:
                self._end(p)
                self._finish(p, rc)
                finished.append(p.slot)
        return finished

    def _read(self, p: _Running) -> None:
        for line in p.process.read_lines():
            self._line(p, line)
        if p.process.eof:
            self._unregister(p)

    def _unregister(self, p: _Running) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(p.process.stdout)

    def _end(self, p: _Running) -> None:
        """Read the rest of a process that ended and forget it."""
        for line in p.process.drain():
            self._line(p, line)
        self._unregister(p)
        p.process.close()
        del self._running[p.trial.id]

    def _line(self, p: _Running, line: str) -> None:
        report = p.parser.feed(line)
        for w in p.parser.warnings[p.warned :]:
            self.progress.event(f"trial {p.trial.number}: {w}")
        p.warned = len(p.parser.warnings)
        if report is None or p.stopping or p.interrupted:
            return
        try:
            decision = p.trial.report(report.step, report.metrics)
        except (TrialStateError, ValueError) as e:
            self.progress.event(f"trial {p.trial.number}: report ignored: {e}")
            return
        except Exception as e:  # a database hiccup loses one report, not the sweep
            self.progress.event(f"trial {p.trial.number}: report at step {report.step} lost: {e}")
            return
        if decision is Decision.STOP:
            p.stopping = True
            why = "failed" if p.trial.state is TrialState.FAILED else "stopped by the scheduler"
            self.progress.event(f"trial {p.trial.number} {why} at step {report.step}: ending it")
            p.process.terminate(self.stop_grace)

    # -- ending ------------------------------------------------------------------------------
    def _finish(self, p: _Running, rc: int) -> None:
        duration = time.time() - p.started
        rec = p.trial.refresh()
        crashed = rc != 0 and not p.stopping
        try:
            if rec.state.is_stopped:
                pass  # the program finished (or paused) it through the integrations, or it diverged
            elif p.stopping:
                rec = p.trial.prune()
            elif rc == 0:
                rec = self._complete(p, rec)
            else:
                rec = p.trial.fail(self._crash_text(p, rc))
        except TrialStateError:
            rec = p.trial.refresh()
        self._durations.append(duration)
        values = "  ".join(f"{k}={v:.4g}" for k, v in rec.values.items())
        msg = f"trial {rec.number} {rec.state.value} in {duration:.1f}s  {values}".rstrip()
        if rec.state is TrialState.FAILED and rec.error:
            msg += f"\n  {rec.error.strip().splitlines()[0][:200]} (logs: {p.process.run_dir})"
        self.progress.event(msg)
        if crashed and rec.state is TrialState.FAILED and rec.attempt < self.sweep.retries:
            retry = self.exp.storage.requeue(rec.id)
            self.progress.event(
                f"trial {rec.number} queued again as trial {retry.number} "
                f"(attempt {retry.attempt + 1} of {self.sweep.retries + 1})"
            )

    def _complete(self, p: _Running, rec: TrialRecord) -> TrialRecord:
        finals = p.parser.finals
        missing = [
            m.name
            for m in self.exp.objectives
            if m.name not in finals and rec.last_reported(m.name) is None
        ]
        if missing:
            name = missing[0]
            return p.trial.fail(
                f"the program exited 0 but reported no value for {missing}; print lines like "
                f'`tunehooks: {{"step": 1, "{name}": 0.9}}` or a final `{name}<TAB>0.9` '
                f"(stdout: {p.process.run_dir / 'stdout.log'})"
            )
        return p.trial.complete(finals or None)

    def _crash_text(self, p: _Running, rc: int) -> str:
        how = f"killed by signal {signal.Signals(-rc).name}" if rc < 0 else f"exit code {rc}"
        tail = p.process.stderr_tail(_STDERR_TAIL)
        return f"the program ended with {how}" + (f"; stderr tail:\n{tail}" if tail else "")

    def _shutdown(self, reason: str) -> None:
        n = len(self._running)
        self.progress.event(
            f"stopping {n} running trial{'s' if n != 1 else ''} ({reason}); "
            "send the signal again to kill them at once"
        )
        for p in list(self._running.values()):
            rc = p.process.poll()
            if rc is not None:  # it ended on its own: judge it as usual
                self._end(p)
                self._finish(p, rc)
                continue
            p.interrupted = True
            p.process.terminate(self.stop_grace)
        while self._running:
            for key, _ in self._sel.select(timeout=self.poll_interval):
                self._read(key.data)
            for p in list(self._running.values()):
                if self._kill_now:
                    p.process.signal(signal.SIGKILL)
                p.process.tick(time.time())
                if p.process.poll() is None:
                    continue
                self._end(p)
                if p.trial.refresh().state is not TrialState.RUNNING:
                    continue
                try:
                    p.trial.fail(reason)
                except TrialStateError:
                    continue
                retry = self.exp.storage.requeue(p.trial.id)
                self.progress.event(
                    f"trial {p.trial.number} interrupted; queued again as trial {retry.number}"
                )

    def _reclaim(self) -> bool:
        """Requeue the trials of vanished workers (any host); True when some were."""
        try:
            found = reclaim_stale_trials(
                self.exp,
                stale_after=self.stale_after,
                retries=self.sweep.retries,
                own=self.worker_id,
            )
        except Exception as e:  # a database hiccup must not end the sweep
            self.progress.event(f"looking for stale trials failed ({e}); retrying later")
            return False
        for r in found:
            again = f"; queued again as trial {r.retry.number}" if r.retry else ""
            self.progress.event(f"trial {r.trial.number} reclaimed ({r.reason}){again}")
        self._reclaimed += len(found)
        return bool(found)

    def _heartbeat(self) -> None:
        try:
            self.exp.storage.heartbeat([p.trial.id for p in self._running.values()])
        except Exception as e:  # a database hiccup must not end the sweep
            self.progress.event(f"heartbeat failed ({e}); retrying")

    def _update_stats(self, *, cheap: bool = False) -> None:
        if not cheap or self._stats is None:
            try:  # progress is best effort: a database hiccup must not end the sweep
                self._stats = sweep_stats(
                    self.exp,
                    durations=self._durations,
                    slots=self._n_slots,
                    elapsed=time.time() - self._t0,
                )
            except Exception:
                return
        self.progress.update(replace(self._stats, elapsed=time.time() - self._t0))
