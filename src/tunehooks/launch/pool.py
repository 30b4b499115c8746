"""The launcher's running trials: start a trial's process on a slot, read its output into
reports (a STOP decision ends the process), write the ends of those that exited, and stop
them all when the launcher stops.

:class:`~tunehooks.launch.runner.Launcher` decides what to start and when; this module
does the work on the processes. A report or an end that cannot be written while the
database is unavailable is noted on the :class:`~tunehooks.launch.outage.StorageGuard`
(the end waits in :attr:`TrialPool.ended`, its slot busy, until it is written).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from tunehooks.experiment import Experiment
from tunehooks.launch.devices import Slot
from tunehooks.launch.executors import Executor
from tunehooks.launch.judge import RunningTrial, TrialJudge
from tunehooks.launch.outage import StorageGuard
from tunehooks.launch.output import OutputParser
from tunehooks.launch.policy import CONFIG_PREFIX
from tunehooks.launch.recovery import pause_if_resumable
from tunehooks.launch.starting import prepare_start
from tunehooks.launch.sweep import Sweep
from tunehooks.storage import StorageUnavailableError
from tunehooks.trial import Decision, Trial, TrialState, TrialStateError

__all__ = ["TrialPool", "guarded"]

T = TypeVar("T")
_MAX_WARNINGS = 20  # malformed-line warnings shown per trial


def guarded(guard: StorageGuard, call: Callable[[], T]) -> T | None:
    """``call()``; ``None`` (and the outage noted on ``guard``) when the database is
    unavailable.

    Example:
        >>> guarded(StorageGuard(60.0, print), lambda: 2 + 2)
        4
    """
    try:
        out = call()
    except StorageUnavailableError as e:
        guard.failed(e.cause)
        return None
    return out


class TrialPool:
    """The trial processes a launcher runs, by trial id, and those that exited and wait
    for their end to be written.

    Example:
        >>> import tunehooks.launch as tl
        >>> from tunehooks.launch.executors.local import LocalExecutor
        >>> from tunehooks.launch.judge import TrialJudge
        >>> sweep = tl.parse_sweep({"name": "doc-pool", "command": ["true"],
        ...     "method": "random", "metric": {"name": "y", "goal": "maximize"},
        ...     "parameters": {"x": {"min": 0.0, "max": 1.0}}, "run_cap": 1})
        >>> exp = sweep.open_experiment(storage="memory://doc-pool")
        >>> guard = StorageGuard(60.0, print)
        >>> pool = TrialPool(exp, sweep, TrialJudge(exp, sweep, print, lambda: 0), guard,
        ...     say=print, runs_dir=Path("/tmp/tunehooks-doc-pool"), env={})
        >>> pool.place(LocalExecutor(grace=1.0), hide_gpus=False, pci_order=False)
        >>> pool.running, pool.ended, pool.started, pool.poll()
        ({}, [], 0, [])
        >>> pool.executor.close()
    """

    def __init__(
        self,
        exp: Experiment,
        sweep: Sweep,
        judge: TrialJudge,
        guard: StorageGuard,
        *,
        say: Callable[[str], None],
        runs_dir: Path,
        env: dict[str, str],
        cwd: str | None = None,
        stop_grace: float = 10.0,
        poll_interval: float = 0.1,
    ) -> None:
        self.exp = exp
        self.sweep = sweep
        self.judge = judge
        self.guard = guard
        self.executor: Executor  # where the trials run: set by place()
        self.say = say
        self.runs_dir = runs_dir
        self.env = env
        self.cwd = cwd
        self.stop_grace = stop_grace
        self.poll_interval = poll_interval
        self.hide_gpus = self.pci_order = False
        self.running: dict[int, RunningTrial] = {}
        self.ended: list[RunningTrial] = []  # exited, their end not yet written (database down)
        self.started = 0

    def place(self, executor: Executor, *, hide_gpus: bool, pci_order: bool) -> None:
        """Where the trials run, and how their GPUs are named (see
        :func:`~tunehooks.launch.starting.prepare_start`)."""
        self.executor, self.hide_gpus, self.pci_order = executor, hide_gpus, pci_order

    def busy_slots(self) -> set[int]:
        """The indexes of the slots a trial holds (running, or its end not yet written)."""
        return {p.slot.index for p in [*self.running.values(), *self.ended]}

    # -- starting ----------------------------------------------------------------------------
    def start_or_fail(self, slot: Slot, trial: Trial) -> bool:
        """Start ``trial`` on ``slot``; False when its command could not start (the trial
        FAILED). Whatever else goes wrong fails the trial too, then raises."""
        try:
            return self._start(slot, trial)
        except BaseException as e:  # the trial must not stay RUNNING without a process
            if trial.id not in self.running:
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
            hide_gpus=self.hide_gpus,
            pci_order=self.pci_order,
        )
        argv = start.argv
        try:
            process = self.executor.start(argv, env=start.env, cwd=self.cwd, run_dir=start.run_dir)
        except OSError as e:
            error = f"{CONFIG_PREFIX}could not start the command {argv[0]!r}: {e}; check `command:`"
            guarded(self.guard, lambda: trial.fail(error))
            self.say(f"trial {trial.number} FAILED: cannot start {argv[0]!r}: {e}")
            self.started += 1
            self.judge.note_end(failed=True, error=error)
            return False
        names = [m.name for m in exp.metrics]
        p = RunningTrial(slot, trial, process, OutputParser(final_names=names), time.time())
        self.running[trial.id] = p
        self.started += 1
        params = json.dumps(trial.params, default=str)
        fid = "" if trial.fidelity is None else f" fidelity={trial.fidelity:g}"
        if start.task:  # tasks keep their names
            fid = f" task={start.task}"
        self.say(f"trial {trial.number} started on {slot.describe()}{fid}: {params}")
        return True

    def put_back(self, trial: Trial) -> None:
        """A trial asked for that will not run here (the launcher stops): failed and
        queued again."""

        def put_back() -> None:
            trial.fail("interrupted: the launcher stopped before starting it")
            retry = self.exp.requeue(trial.id)
            self.say(
                f"trial {trial.number} not started (the launcher stops); queued again as "
                f"trial {retry.number}"
            )

        with contextlib.suppress(TrialStateError):
            guarded(self.guard, put_back)

    # -- watching ----------------------------------------------------------------------------
    def poll(self) -> list[Slot]:
        """Read the output there is; note the processes that exited and write their ends.
        Returns the slots freed (none while the database is unavailable)."""
        self._read_ready()
        now = time.time()
        for p in list(self.running.values()):
            p.process.tick(now)
            rc = p.process.poll()
            if rc is not None:
                self._end(p)
                p.rc, p.duration = rc, now - p.started
                self.ended.append(p)
        return self.settle() if not self.guard.down else []

    def _read_ready(self) -> None:
        """Read the output that is there, waiting up to ``poll_interval`` for some."""
        ready = self.executor.ready(self.poll_interval)
        for p in list(self.running.values()):
            if any(h is p.process for h in ready):
                self._read(p)

    def _read(self, p: RunningTrial) -> None:
        for line in p.process.read_lines():
            self._line(p, line)
        if p.process.eof:
            self.executor.unregister(p.process)

    def _end(self, p: RunningTrial) -> None:
        """Read the rest of a process that ended and forget it."""
        for line in p.process.drain():
            self._line(p, line)
        self.executor.forget(p.process)
        del self.running[p.trial.id]

    def _line(self, p: RunningTrial, line: str) -> None:
        report = p.parser.feed(line)
        for w in p.parser.warnings[p.warned :]:
            p.warned += 1
            if p.warned <= _MAX_WARNINGS:
                self.say(f"trial {p.trial.number}: {w}")
            elif p.warned == _MAX_WARNINGS + 1:
                self.say(
                    f"trial {p.trial.number}: more malformed lines ignored; see "
                    f"{p.process.run_dir / 'stdout.log'}"
                )
        # a report read while the launcher stops is kept, unless nothing can be written
        if report is None or p.stopping or (p.interrupted and self.guard.down):
            return
        try:
            decision = p.trial.report(report.step, report.metrics)
        except (TrialStateError, ValueError) as e:
            self.say(f"trial {p.trial.number}: report ignored: {e}")
            return
        except StorageUnavailableError as e:  # waited storage_timeout: the loop gives up
            self.guard.failed(e.cause)
            return
        failure = self.exp.report_failure(p.trial.id)
        if failure is not None:  # the report waits in memory
            self.guard.failed(failure)
        if decision is Decision.STOP:
            p.stopping = True
            why = "failed" if p.trial.state is TrialState.FAILED else "stopped by the scheduler"
            self.say(f"trial {p.trial.number} {why} at step {report.step}: ending it")
            p.process.terminate(self.stop_grace)

    # -- ending ------------------------------------------------------------------------------
    def settle(self) -> list[Slot]:
        """Write the ends of the trials that exited; their slots are free once written."""
        return self.settle_all()[0]

    def settle_all(self) -> tuple[list[Slot], bool]:
        """:meth:`settle`, and whether every end was written."""
        freed: list[Slot] = []
        for p in list(self.ended):
            try:
                self.judge.finish(p, p.rc if p.rc is not None else 0)
            except StorageUnavailableError as e:
                self.guard.failed(e.cause)
                return freed, False
            self.ended.remove(p)
            freed.append(p.slot)
        return freed, True

    def shutdown(self, reason: str, *, kill_now: Callable[[], bool]) -> None:
        """Stop every running trial: each PAUSEs when it can resume from a checkpoint, else
        FAILs with ``reason`` and is queued again; write the ends that still wait."""
        n = len(self.running)
        self.say(
            f"stopping {n} running trial{'s' if n != 1 else ''} ({reason}); "
            "send the signal again to kill them at once"
        )
        for p in self.stop_all(kill_now=kill_now):
            try:
                self._interrupted(p, reason)
            except StorageUnavailableError:  # it stays RUNNING: a relaunch reclaims it
                self.say(
                    f"trial {p.trial.number} ended; the database is unavailable, a "
                    "relaunch runs it again"
                )
        with contextlib.suppress(StorageUnavailableError):
            for p in list(self.ended):  # ended before the stop, end not yet written
                self.judge.finish(p, p.rc if p.rc is not None else 0)
                self.ended.remove(p)

    def stop_all(self, *, kill_now: Callable[[], bool]) -> Iterator[RunningTrial]:
        """Stop every running trial (SIGKILL at once once ``kill_now()``, after a second
        signal); yield each as it ends, its output read."""
        for p in list(self.running.values()):
            p.interrupted = True
            p.process.terminate(self.stop_grace)
        while self.running:
            self._read_ready()
            for p in list(self.running.values()):
                if kill_now():
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
            self.say(f"trial {p.trial.number} interrupted; it resumes from its checkpoint")
            return
        try:
            p.trial.fail(reason)
        except TrialStateError:
            return
        retry = self.exp.requeue(p.trial.id)
        self.say(f"trial {p.trial.number} interrupted; queued again as trial {retry.number}")
