"""A trial's end as the launcher judges it: its final state, the console lines, a retry,
and whether the sweep should stop starting trials (the failure policy)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunehooks.launch.devices import Slot
from tunehooks.launch.ending import crash_text, failure_lines
from tunehooks.launch.executors.base import TrialHandle
from tunehooks.launch.output import OutputParser
from tunehooks.launch.policy import CONFIG_PREFIX, FailureKind, FailureTracker, classify_failure
from tunehooks.trial import Trial, TrialRecord, TrialState, TrialStateError

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment
    from tunehooks.launch.sweep import Sweep

__all__ = ["LaunchResult", "RunningTrial", "TrialJudge"]

_STDERR_TAIL = 2000


@dataclass(frozen=True)
class LaunchResult:
    """What one launch did: trials it started, totals of the experiment, the best trial.

    ``halted`` says why the sweep stopped starting trials before its budget was
    spent (too many failures), with the last error; ``exit_code`` is what
    ``tunehooks launch`` exits with (0, 1 when halted, 130 when interrupted).

    Example:
        >>> LaunchResult("e", started=2, completed=2, pruned=0, failed=0, interrupted=False,
        ...              reclaimed=0, best=None).exit_code
        0
    """

    experiment: str
    started: int
    completed: int
    pruned: int
    failed: int
    interrupted: bool
    reclaimed: int
    best: TrialRecord | None
    halted: str | None = None

    @property
    def exit_code(self) -> int:
        return 130 if self.interrupted else 1 if self.halted else 0


@dataclass
class RunningTrial:
    """A trial the launcher started: its slot, handle, process and what it printed.

    Example:
        >>> import os, sys, tempfile, time
        >>> from pathlib import Path
        >>> import tunehooks as th
        >>> from tunehooks.launch.executors.local import LocalExecutor
        >>> exp = th.Experiment.create("doc-running", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("y", goal="minimize")], budget=th.Budget(trials=1),
        ...     storage="sqlite://", method="random")
        >>> ex = LocalExecutor(grace=1.0)
        >>> h = ex.start([sys.executable, "-c", "pass"], env=dict(os.environ), cwd=None,
        ...              run_dir=Path(tempfile.mkdtemp()))
        >>> r = RunningTrial(Slot(0), exp.ask(), h, OutputParser(), started=time.time())
        >>> while r.process.poll() is None:
        ...     time.sleep(0.01)
        >>> r.process.poll(), r.slot.describe(), r.stopping
        (0, 'cpu', False)
        >>> ex.forget(h); ex.close()
    """

    slot: Slot
    trial: Trial
    process: TrialHandle
    parser: OutputParser
    started: float
    stopping: bool = False
    interrupted: bool = False
    warned: int = 0
    rc: int | None = None
    duration: float = 0.0


class TrialJudge:
    """Ends the launcher's trials in storage and keeps the failure policy's count.

    Example:
        >>> TrialJudge.__name__
        'TrialJudge'
    """

    def __init__(
        self,
        exp: Experiment,
        sweep: Sweep,
        say: Callable[[str], None],
        running: Callable[[], int],
        *,
        resume: Callable[[int, str], TrialRecord | None] | None = None,
    ) -> None:
        self.exp = exp
        # a trial killed by a signal (kill -9, the OOM killer) PAUSEs to resume from its
        # checkpoint: ``resume(trial_id, why)`` pauses it when it has one (None: it has
        # none); at most ``max(1, retries)`` times a launch, so a kill at every run ends
        self.resume = resume
        self._resumed: dict[int, int] = {}
        self.sweep = sweep
        self.say = say
        self.running = running
        self.failures = FailureTracker(sweep.failure)
        self.halted: str | None = None
        self.durations: list[float] = []

    def finish(self, p: RunningTrial, rc: int) -> None:
        lost = p.process.lost
        if lost is not None:
            self._lost(p, lost)
            return
        rec = p.trial.refresh()
        crashed = rc != 0 and not p.stopping
        kind = FailureKind.CRASH
        try:
            if rec.state.is_stopped:
                pass  # the program finished (or paused) it through the integrations, or it diverged
            elif p.stopping:
                rec = p.trial.prune()
            elif rc == 0:
                rec = self._complete(p, rec)
            elif rc < 0 and (paused := self._resume_killed(p, rc)) is not None:
                rec, crashed = paused, False
            else:
                tail = p.process.stderr_tail(_STDERR_TAIL)
                kind = classify_failure(rc, tail)
                prefix = CONFIG_PREFIX if kind is FailureKind.CONFIGURATION else ""
                rec = p.trial.fail(prefix + crash_text(rc, tail))
        except TrialStateError:
            rec = p.trial.refresh()
        if rec.state is TrialState.FAILED and (rec.error or "").startswith(CONFIG_PREFIX):
            kind = FailureKind.CONFIGURATION
        self.durations.append(p.duration)
        values = "  ".join(f"{k}={v:.4g}" for k, v in rec.values.items())
        msg = f"trial {rec.number} {rec.state.value} in {p.duration:.1f}s  {values}".rstrip()
        if rec.state is TrialState.FAILED and rec.error:
            msg += failure_lines(rec.error, p.process.run_dir)
        self.say(msg)
        retry = (
            crashed
            and kind is FailureKind.CRASH
            and rec.state is TrialState.FAILED
            and rec.attempt < self.sweep.retries
        )
        if retry:
            again = self.exp.requeue(rec.id)
            self.say(
                f"trial {rec.number} queued again as trial {again.number} "
                f"(attempt {again.attempt + 1} of {self.sweep.retries + 1})"
            )
        # a crash or a configuration error counts against the policy; a trial that failed
        # on a diverged metric (stopped, or ended by the program itself) is a result
        broken = rec.state is TrialState.FAILED and (crashed or kind is FailureKind.CONFIGURATION)
        self.note_end(failed=broken, error=rec.error)

    def _resume_killed(self, p: RunningTrial, rc: int) -> TrialRecord | None:
        """PAUSE a trial whose process a signal ended, when it has a checkpoint."""
        tid = p.trial.id
        if self.resume is None or self._resumed.get(tid, 0) >= max(1, self.sweep.retries):
            return None
        rec = self.resume(tid, f"its process was killed by signal {-rc}")
        if rec is not None:
            self._resumed[tid] = self._resumed.get(tid, 0) + 1
            self.say(
                f"trial {rec.number} was killed (signal {-rc}); it resumes from its checkpoint"
            )
        return rec

    def _lost(self, p: RunningTrial, why: str) -> None:
        """Its node died: FAILED with the reason and queued again (a vanished worker always
        earns one more attempt, as a reclaimed trial does); not the trial's fault, so the
        failure policy does not count it."""
        try:
            rec = p.trial.fail(why)
        except TrialStateError:
            rec = p.trial.refresh()
        self.durations.append(p.duration)
        self.say(f"trial {rec.number} {rec.state.value} after {p.duration:.1f}s: {why}")
        if rec.state is TrialState.FAILED and rec.attempt <= self.sweep.retries:
            again = self.exp.requeue(rec.id)
            self.say(f"trial {rec.number} queued again as trial {again.number}")
        self.note_end(failed=False, error=None)

    def note_end(self, *, failed: bool, error: str | None) -> None:
        why = self.failures.ended(failed=failed, error=error)
        if why is not None and self.halted is None:
            self.halted = why
            n = self.running()
            self.say(
                f"stopping the sweep: {why}; no new trial starts"
                + (f" ({n} still running finish first)" if n else "")
            )

    def halt_message(self) -> str:
        path = self.sweep.path if self.sweep.path is not None else "sweep.yaml"
        last = failure_lines(self.failures.last_error, None, lines=8)
        return (
            f"the sweep stopped early: {self.halted}; the last error:{last}\n"
            f"fix the cause, then run `tunehooks launch {path} --retry-failed` to run the "
            "failed trials again and continue to the budget"
        )

    def _complete(self, p: RunningTrial, rec: TrialRecord) -> TrialRecord:
        finals = p.parser.finals
        missing = [
            m.name
            for m in self.exp.objectives
            if m.name not in finals and rec.last_reported(m.name) is None
        ]
        if missing:
            name = missing[0]
            return p.trial.fail(
                f"{CONFIG_PREFIX}the program exited 0 but reported no value for {missing}; "
                f'print lines like `tunehooks: {{"step": 1, "{name}": 0.9}}` or a final '
                f"`{name}<TAB>0.9` (stdout: {p.process.run_dir / 'stdout.log'})"
            )
        return p.trial.complete(finals or None)
