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
import ctypes
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tunehooks.context import ENV_EXPERIMENT, ENV_STORAGE, ENV_TRIAL_ID
from tunehooks.launch._schema import SweepError
from tunehooks.launch.devices import Slot, detect_gpus, make_slots
from tunehooks.launch.macros import MacroContext, expand_command
from tunehooks.launch.output import OutputParser
from tunehooks.launch.progress import LogProgress, ProgressSink, SweepStats
from tunehooks.launch.recovery import reclaim_stale_trials
from tunehooks.trial import Decision, Trial, TrialRecord, TrialState, TrialStateError

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment
    from tunehooks.launch.sweep import Sweep
    from tunehooks.schedulers import Scheduler

__all__ = ["ENV_RUN_DIR", "LaunchResult", "Launcher"]

ENV_RUN_DIR = "TUNEHOOKS_RUN_DIR"
_STDERR_TAIL = 2000


@dataclass(frozen=True)
class LaunchResult:
    """What one launch did."""

    experiment: str
    started: int
    completed: int
    pruned: int
    failed: int
    interrupted: bool
    reclaimed: int
    best: TrialRecord | None


@dataclass
class _Proc:
    slot: Slot
    trial: Trial
    proc: subprocess.Popen[bytes]
    parser: OutputParser
    run_dir: Path
    log: IO[bytes]
    started: float
    buf: bytes = b""
    eof: bool = False
    stopping: bool = False
    interrupted: bool = False
    kill_at: float | None = None
    warned: int = 0


@dataclass
class _Counts:
    started: int = 0
    by_state: dict[TrialState, int] = field(default_factory=dict)
    durations: list[float] = field(default_factory=list)


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
        self._running: dict[int, _Proc] = {}
        self._sel = selectors.DefaultSelector()
        self._stop_signal: int | None = None
        self._kill_now = False
        self._counts = _Counts()
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
        reclaimed = reclaim_stale_trials(
            exp, stale_after=self.stale_after, retries=self.sweep.retries
        )
        for r in reclaimed:
            again = f"; queued again as trial {r.retry.number}" if r.retry else ""
            self.progress.event(f"trial {r.trial.number} reclaimed ({r.reason}){again}")
        gpus = list(self.sweep.devices) if self.sweep.devices is not None else detect_gpus(self.env)
        self._has_gpus = bool(gpus)
        slots, note = make_slots(
            workers=self.workers or self.sweep.workers,
            gpus_per_trial=self.sweep.gpus_per_trial,
            devices=gpus,
        )
        if note:
            self.progress.event(note)
        self.progress.event(
            f"sweep {exp.name}: {len(slots)} worker{'s' if len(slots) > 1 else ''} "
            f"({', '.join(s.describe() for s in slots)}), storage {exp.storage.url}"
        )
        restore = self._install_signal_handlers()
        free = list(slots)
        more = True
        last_beat = last_stats = time.time()
        try:
            while self._stop_signal is None:
                while free and more and self._stop_signal is None:
                    trial = exp.ask(worker_id=f"{self.worker_id}/{free[0].index}")
                    if trial is None:
                        more = False
                    elif self._start(free[0], trial):
                        free.pop(0)
                if not self._running:
                    break
                finished = self._poll()
                if finished:
                    free.extend(finished)
                    free.sort(key=lambda s: s.index)
                    more = True
                    self._update_stats()
                    last_stats = time.time()
                now = time.time()
                if now - last_beat >= self.heartbeat_interval:
                    self._heartbeat()
                    last_beat = now
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
        c = self._counts.by_state
        best = None if len(exp.objectives) > 1 else exp.best
        return LaunchResult(
            experiment=exp.name,
            started=self._counts.started,
            completed=c.get(TrialState.COMPLETED, 0),
            pruned=c.get(TrialState.PRUNED, 0),
            failed=c.get(TrialState.FAILED, 0),
            interrupted=self._stop_signal is not None,
            reclaimed=len(reclaimed),
            best=best,
        )

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def handler(signum: int, _frame: Any) -> None:
            if self._stop_signal is not None:
                self._kill_now = True
            self._stop_signal = signum

        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for s, h in old.items():
                signal.signal(s, h)

        return restore

    # -- starting ----------------------------------------------------------------------------
    def _start(self, slot: Slot, trial: Trial) -> bool:
        exp = self.exp
        run_dir = self.runs_dir / _safe(exp.name) / str(trial.id)
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
        env = dict(self.env)
        env.update(
            {
                ENV_STORAGE: _absolute_url(exp.storage.url),
                ENV_EXPERIMENT: exp.name,
                ENV_TRIAL_ID: str(trial.id),
                ENV_RUN_DIR: str(run_dir.resolve()),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if slot.gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(slot.gpus)
        elif self._has_gpus:
            env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU worker on a GPU machine
        (run_dir / "command.json").write_text(
            json.dumps({"argv": argv, "slot": slot.describe(), "trial": trial.number}, indent=1)
        )
        log = open(run_dir / "stdout.log", "ab")  # noqa: SIM115 - closed when the trial ends
        try:
            with open(run_dir / "stderr.log", "ab") as err:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    env=env,
                    cwd=self.cwd,
                    start_new_session=True,  # Ctrl-C reaches the launcher only; it stops the trials
                    preexec_fn=_die_with_parent(os.getpid()),
                )
        except OSError as e:
            log.close()
            trial.fail(f"could not start the command {argv[0]!r}: {e}; check `command:`")
            self.progress.event(f"trial {trial.number} FAILED: cannot start {argv[0]!r}: {e}")
            self._counts.started += 1
            return False
        if proc.stdout is None:  # pragma: no cover - stdout=PIPE
            raise RuntimeError("no stdout pipe")
        os.set_blocking(proc.stdout.fileno(), False)
        names = [m.name for m in exp.metrics]
        p = _Proc(slot, trial, proc, OutputParser(final_names=names), run_dir, log, time.time())
        self._sel.register(proc.stdout, selectors.EVENT_READ, p)
        self._running[trial.id] = p
        self._counts.started += 1
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
            if p.kill_at is not None and now >= p.kill_at and p.proc.poll() is None:
                _signal_group(p.proc, signal.SIGKILL)
                p.kill_at = None
            rc = p.proc.poll()
            if rc is not None:
                self._drain(p)
                self._finish(p, rc)
                finished.append(p.slot)
        return finished

    def _read(self, p: _Proc) -> None:
        if p.eof or p.proc.stdout is None:
            return
        try:
            data = os.read(p.proc.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return
        if not data:
            self._close_pipe(p)
            return
        p.log.write(data)
        p.buf += data
        *lines, p.buf = p.buf.split(b"\n")
        if len(p.buf) > 1 << 20:
            lines.append(p.buf)
            p.buf = b""
        for line in lines:
            self._line(p, line.decode("utf-8", errors="replace"))

    def _drain(self, p: _Proc) -> None:
        for _ in range(1000):  # a grandchild may keep the pipe open: read what is there
            if p.eof:
                break
            before = len(p.buf), p.log.tell()
            self._read(p)
            if (len(p.buf), p.log.tell()) == before:
                break
        if p.buf:
            self._line(p, p.buf.decode("utf-8", errors="replace"))
            p.buf = b""
        self._close_pipe(p)

    def _close_pipe(self, p: _Proc) -> None:
        if not p.eof and p.proc.stdout is not None:
            self._sel.unregister(p.proc.stdout)
            p.proc.stdout.close()
        p.eof = True

    def _line(self, p: _Proc, line: str) -> None:
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
        if decision is Decision.STOP:
            p.stopping = True
            why = "failed" if p.trial.state is TrialState.FAILED else "stopped by the scheduler"
            self.progress.event(f"trial {p.trial.number} {why} at step {report.step}: ending it")
            self._terminate(p)

    def _terminate(self, p: _Proc) -> None:
        _signal_group(p.proc, signal.SIGTERM)
        p.kill_at = time.time() + self.stop_grace

    # -- ending ------------------------------------------------------------------------------
    def _finish(self, p: _Proc, rc: int) -> None:
        p.log.close()
        del self._running[p.trial.id]
        duration = time.time() - p.started
        rec = p.trial.refresh()
        crashed = rc != 0 and not p.stopping
        try:
            if rec.state.is_finished:
                pass  # the program finished it through the integrations, or it diverged
            elif p.stopping:
                rec = p.trial.prune()
            elif rc == 0:
                rec = self._complete(p, rec)
            else:
                rec = p.trial.fail(self._crash_text(p, rc))
        except TrialStateError:
            rec = p.trial.refresh()
        self._counts.durations.append(duration)
        values = "  ".join(f"{k}={v:.4g}" for k, v in rec.values.items())
        msg = f"trial {rec.number} {rec.state.value} in {duration:.1f}s  {values}".rstrip()
        if rec.state is TrialState.FAILED and rec.error:
            msg += f"\n  {rec.error.strip().splitlines()[0][:200]} (logs: {p.run_dir})"
        self.progress.event(msg)
        if crashed and rec.state is TrialState.FAILED and rec.attempt < self.sweep.retries:
            retry = self.exp.storage.requeue(rec.id)
            self.progress.event(
                f"trial {rec.number} queued again as trial {retry.number} "
                f"(attempt {retry.attempt + 1} of {self.sweep.retries + 1})"
            )

    def _complete(self, p: _Proc, rec: TrialRecord) -> TrialRecord:
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
                f"(stdout: {p.run_dir / 'stdout.log'})"
            )
        return p.trial.complete(finals or None)

    def _crash_text(self, p: _Proc, rc: int) -> str:
        how = f"killed by signal {signal.Signals(-rc).name}" if rc < 0 else f"exit code {rc}"
        try:
            tail = (p.run_dir / "stderr.log").read_bytes()[-_STDERR_TAIL:]
        except OSError:
            tail = b""
        text = tail.decode("utf-8", errors="replace").strip()
        return f"the program ended with {how}" + (f"; stderr tail:\n{text}" if text else "")

    def _shutdown(self, reason: str) -> None:
        n = len(self._running)
        self.progress.event(
            f"stopping {n} running trial{'s' if n != 1 else ''} ({reason}); "
            "send the signal again to kill them at once"
        )
        deadline = time.time() + self.stop_grace
        for p in self._running.values():
            p.interrupted = True
            _signal_group(p.proc, signal.SIGTERM)
        while self._running:
            for key, _ in self._sel.select(timeout=self.poll_interval):
                self._read(key.data)
            for p in list(self._running.values()):
                if (self._kill_now or time.time() > deadline) and p.proc.poll() is None:
                    _signal_group(p.proc, signal.SIGKILL)
                if p.proc.poll() is None:
                    continue
                self._drain(p)
                p.log.close()
                del self._running[p.trial.id]
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

    def _heartbeat(self) -> None:
        try:
            self.exp.storage.heartbeat([p.trial.id for p in self._running.values()])
        except Exception as e:  # a database hiccup must not end the sweep
            self.progress.event(f"heartbeat failed ({e}); retrying")

    def _update_stats(self, *, cheap: bool = False) -> None:
        exp = self.exp
        if not cheap or not self._counts.by_state:
            try:
                self._counts.by_state = exp.storage.count_trials(exp.id)
                self._best = _best_text(exp)
            except Exception:  # progress is best effort
                pass
        c = self._counts.by_state
        done = sum(
            c.get(s, 0) for s in (TrialState.COMPLETED, TrialState.PRUNED, TrialState.FAILED)
        )
        eta = None
        budget = exp.budget.trials
        if budget and self._counts.durations:
            mean = sum(self._counts.durations) / len(self._counts.durations)
            remaining = max(0, budget - done)
            eta = remaining * mean / max(1, len(self._running) or 1)
        self.progress.update(
            SweepStats(
                completed=c.get(TrialState.COMPLETED, 0),
                pruned=c.get(TrialState.PRUNED, 0),
                failed=c.get(TrialState.FAILED, 0),
                running=c.get(TrialState.RUNNING, 0),
                budget_trials=budget,
                best=getattr(self, "_best", None),
                elapsed=time.time() - self._t0,
                eta=eta,
            )
        )


def _best_text(exp: Experiment) -> str | None:
    if len(exp.objectives) > 1:
        return f"{len(exp.pareto_front())} on the Pareto front"
    best = exp.best
    if best is None:
        return None
    name = exp.objectives[0].name
    return f"{name}={best.values[name]:.4g} (trial {best.number})"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "experiment"


def _absolute_url(url: str) -> str:
    """A relative SQLite path made absolute, so a program that changes folder finds it."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        path = url[len(prefix) :]
        if path and not path.startswith(":") and "?" not in path:
            return prefix + os.path.abspath(path)
    return url


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


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
