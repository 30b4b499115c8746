"""Progress of a sweep: a live rich panel on a terminal, plain log lines otherwise."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

from tunehooks import budgets
from tunehooks.trial import TrialState

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

__all__ = [
    "LogProgress",
    "ProgressSink",
    "RichProgress",
    "SweepStats",
    "make_progress",
    "sweep_stats",
]


@dataclass(frozen=True)
class SweepStats:
    """A snapshot of a running sweep.

    Example:
        >>> SweepStats(completed=3, pruned=1, running=2, budget_trials=12, elapsed=75).line()
        'done 4/12  running 2  completed 3  pruned 1  failed 0  best -  elapsed 1m15s'
    """

    completed: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0
    retried: int = 0
    """Attempts that are retries of a failed one (the failed one is then not done)."""
    budget_trials: int | None = None
    cost: float | None = None
    budget_cost: float | None = None
    best: str | None = None
    elapsed: float = 0.0
    eta: float | None = None

    @property
    def done(self) -> int:
        return max(0, self.completed + self.pruned + self.failed - self.retried)

    def line(self) -> str:
        budget = f"/{self.budget_trials}" if self.budget_trials else ""
        eta = "" if self.eta is None else f"  eta {_duration(self.eta)}"
        cost = (
            "" if self.budget_cost is None else f"  cost {self.cost or 0:.2f}/{self.budget_cost:g}"
        )
        return (
            f"done {self.done}{budget}{cost}  running {self.running}  completed {self.completed}  "
            f"pruned {self.pruned}  failed {self.failed}  best {self.best or '-'}  "
            f"elapsed {_duration(self.elapsed)}{eta}"
        )


def sweep_stats(
    exp: Experiment, *, durations: Sequence[float], slots: int, elapsed: float = 0.0
) -> SweepStats:
    """Counts (over every host of the experiment), the best so far and a rough ETA.

    ``done`` counts configurations, not attempts: a failed attempt that was queued
    again is not done (its retry is), so ``done`` never passes the trial budget."""
    trials = exp.storage.get_trials(exp.id, with_reports=False)
    c = {s: 0 for s in TrialState}
    for t in trials:
        c[t.state] += 1
    retried = sum(1 for t in trials if t.attempt > 0)  # each stands for a failed attempt
    done = budgets.configurations_done(trials)
    etas = []
    budget = exp.budget.trials
    left = budgets.trials_left(exp.budget, done)
    if left is not None and budget and durations:
        etas.append(left * (sum(durations) / len(durations)) / max(1, slots))
    cost = None
    if exp.budget.cost is not None:  # needs every report: only when a cost budget is set
        cost = exp.budget_used().cost
        cost_left = budgets.cost_left(exp.budget, cost)
        if cost_left is not None and cost > 0 and elapsed > 0:
            etas.append(cost_left * elapsed / cost)
    best = None
    if len(exp.objectives) > 1:
        best = f"{len(exp.pareto_front())} on the Pareto front"
    elif (b := exp.best) is not None:
        name = exp.objectives[0].name
        best = f"{name}={b.values[name]:.4g} (trial {b.number})"
    return SweepStats(
        completed=c[TrialState.COMPLETED],
        pruned=c[TrialState.PRUNED],
        failed=c[TrialState.FAILED],
        retried=retried,
        running=c[TrialState.RUNNING],
        budget_trials=budget,
        cost=cost,
        budget_cost=exp.budget.cost,
        best=best,
        eta=min(etas) if etas else None,
    )


def _duration(seconds: float) -> str:
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class ProgressSink(Protocol):
    """What the launcher tells the user."""

    def event(self, message: str) -> None: ...

    def update(self, stats: SweepStats) -> None: ...

    def close(self) -> None: ...


class LogProgress:
    """Plain timestamped lines, for logs and pipes: every event, and the totals after it.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> p = LogProgress(out, timestamps=False)
        >>> p.event("trial 0 started")
        >>> "trial 0 started" in out.getvalue()
        True
    """

    def __init__(self, stream: IO[str] | None = None, *, timestamps: bool = True) -> None:
        self._stream: IO[str] | None = stream if stream is not None else sys.stdout
        self._timestamps = timestamps
        self._last_line = ""

    def _stamp(self) -> str:
        return f"[{time.strftime('%H:%M:%S')}] " if self._timestamps else ""

    def event(self, message: str) -> None:
        if self._stream is None:
            return
        try:
            print(f"{self._stamp()}{message}", file=self._stream, flush=True)
        except (BrokenPipeError, ValueError, OSError):  # `| head` closed: keep the sweep going
            self._stream = None

    def update(self, stats: SweepStats) -> None:
        line = stats.line()
        # the elapsed time changes every second: print the totals only when the counts change
        key = line.split("  elapsed")[0]
        if key != self._last_line:
            self._last_line = key
            self.event(line)

    def close(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(BrokenPipeError, ValueError, OSError):
                self._stream.flush()


class RichProgress:
    """A live panel (rich) with the totals; events scroll above it."""

    def __init__(self, title: str) -> None:
        from rich.console import Console
        from rich.live import Live

        self._console = Console()
        self._title = title
        self._stats = SweepStats()
        # no auto-refresh thread: the launcher forks trial processes and refreshes itself
        self._live = Live(self._render(), console=self._console, auto_refresh=False)
        self._live.start()

    def _render(self) -> Any:
        from rich.panel import Panel
        from rich.table import Table

        s = self._stats
        t = Table.grid(padding=(0, 2))
        budget = f" / {s.budget_trials}" if s.budget_trials else ""
        t.add_row("done", f"{s.done}{budget}", "running", str(s.running))
        if s.budget_cost is not None:
            t.add_row("cost", f"{s.cost or 0:.2f} / {s.budget_cost:g}", "", "")
        t.add_row("completed", str(s.completed), "pruned", str(s.pruned))
        t.add_row("failed", str(s.failed), "best", s.best or "-")
        eta = "-" if s.eta is None else _duration(s.eta)
        t.add_row("elapsed", _duration(s.elapsed), "eta", eta)
        return Panel(t, title=self._title, expand=False)

    def event(self, message: str) -> None:
        self._live.console.print(message, markup=False, highlight=False)

    def update(self, stats: SweepStats) -> None:
        self._stats = stats
        self._live.update(self._render(), refresh=True)

    def close(self) -> None:
        self._live.stop()


def make_progress(title: str, *, stream: IO[str] | None = None) -> ProgressSink:
    """A rich panel when ``stream`` (default stdout) is a terminal, plain lines otherwise."""
    out = stream if stream is not None else sys.stdout
    if out is sys.stdout and out.isatty():
        try:
            return RichProgress(title)
        except ModuleNotFoundError:
            pass
    return LogProgress(out)
