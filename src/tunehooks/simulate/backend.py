"""A simulated backend: replays recorded learning curves through a real experiment.

Workers run on a simulated clock. Each asks the experiment for a trial
(``Experiment.ask``, so the real optimizer runs), "trains" it epoch by epoch by
reading the table, reports every epoch (``Trial.report``, so the real
scheduler decides), and completes or prunes it. A trial a promotion scheduler
paused and later resumed continues from its last epoch, as a training that
restores its checkpoint does: it costs only its new epochs. Events are processed in
simulated-time order, so with several workers the others' trials are running
(pending, with partial curves) when one asks or reports: asynchronous, as on
real machines, only faster.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from tunehooks.experiment import Experiment
from tunehooks.metrics import Goal
from tunehooks.simulate.tabular import LearningCurves
from tunehooks.trial import Decision, Trial, TrialState

__all__ = ["Event", "SimulationResult", "simulate"]


@dataclass(frozen=True)
class Event:
    """One simulated epoch: when it ended, which trial and row, and the cumulative epochs.

    Example:
        >>> e = Event(time=2.0, worker=0, trial=0, row=3, epoch=2, value=0.8, total_epochs=2,
        ...           incumbent=None)
        >>> e.epoch, e.total_epochs
        (2, 2)
    """

    time: float
    worker: int
    trial: int
    row: int
    epoch: int
    value: float
    total_epochs: int
    incumbent: float | None  # the true final metric of the current best full trial


@dataclass
class SimulationResult:
    """What a simulation did: every epoch in time order and the trials' outcomes.

    Example:
        >>> res = SimulationResult(events=[
        ...     Event(1.0, 0, 0, 3, 1, 0.7, 1, None), Event(2.0, 0, 0, 3, 2, 0.8, 2, 0.8)])
        >>> res.total_epochs, res.incumbent_at(2), res.epochs_to_reach(0.75)
        (2, 0.8, 2)
    """

    events: list[Event] = field(default_factory=list)
    trials: dict[int, tuple[int, TrialState]] = field(
        default_factory=dict
    )  # number -> (row, state)

    @property
    def total_epochs(self) -> int:
        return self.events[-1].total_epochs if self.events else 0

    def incumbent_at(self, epochs: float) -> float | None:
        """The incumbent's true final metric once ``epochs`` epochs were spent in total."""
        best = None
        for e in self.events:
            if e.total_epochs > epochs:
                break
            best = e.incumbent
        return best

    def epochs_to_reach(self, target: float, *, goal: Goal = Goal.MAXIMIZE) -> int | None:
        """Cumulative epochs until the incumbent's true value reached ``target``."""
        for e in self.events:
            if e.incumbent is not None and (
                e.incumbent >= target if goal is Goal.MAXIMIZE else e.incumbent <= target
            ):
                return e.total_epochs
        return None


def _epochs_for(exp: Experiment, trial: Trial, table: LearningCurves) -> int:
    fid = trial.fidelity
    if fid is None or exp.fidelity is None:
        return table.epochs
    if exp.fidelity.tasks is not None:
        return max(1, min(table.epochs, round(fid / exp.fidelity.max_resource * table.epochs)))
    return max(1, min(table.epochs, math.ceil(fid - 1e-9)))


def simulate(
    experiment: Experiment,
    table: LearningCurves,
    *,
    workers: int = 1,
    max_epochs: int | None = None,
    use_time: bool = True,
    target: float | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> SimulationResult:
    """Run ``experiment`` on ``table`` with ``workers`` simulated asynchronous workers.

    Stops when the experiment's budget is spent and no trial runs, or once
    ``max_epochs`` epochs were trained in total (trials still running then are
    failed as "simulation ended"). ``use_time`` takes each epoch's recorded
    seconds as its simulated duration (otherwise every epoch lasts 1).
    ``target`` ends the simulation as soon as the incumbent's true value
    reaches it (e.g. the table's best: nothing can change after that).
    The experiment's metric must be the table's metric.

    Example:
        >>> import numpy as np, tunehooks as th
        >>> lc = LearningCurves({"a": [0, 1, 2]}, configs=np.array([[0], [1], [2]]),
        ...                     curves=np.array([[0.1, 0.2, 0.3], [0.5, 0.6, 0.7], [0.2, 0.3, 0.4]]))
        >>> exp = th.Experiment.create("doc-sim", lc.space(), metrics=[lc.objective()],
        ...     budget=th.Budget(trials=3), storage="memory://", method="grid")
        >>> res = simulate(exp, lc, workers=2)
        >>> res.total_epochs, res.incumbent_at(9)
        (9, 0.7)
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1 (got {workers})")
    if table.metric not in {m.name for m in experiment.metrics}:
        raise ValueError(f"the experiment has no metric {table.metric!r} (the table's metric)")
    sign = 1.0 if table.goal is Goal.MAXIMIZE else -1.0
    result = SimulationResult()
    full = table.epochs
    best_obs: float | None = None
    incumbent: float | None = None
    total = 0
    # heap of (time, seq, worker, trial, row, epoch, epochs_to_train)
    heap: list[tuple[float, int, int, Trial, int, int, int]] = []
    seq = 0

    def start(worker: int, now: float) -> bool:
        nonlocal seq
        trial = experiment.ask(worker_id=f"sim-{worker}")
        if trial is None:
            return False
        row = table.row(trial.params)
        result.trials[trial.number] = (row, TrialState.RUNNING)
        n = _epochs_for(experiment, trial, table)
        first = (trial.resume_step or 0) + 1  # a resumed trial continues its curve
        dt = table.duration(row, first) if use_time else 1.0
        heapq.heappush(heap, (now + dt, seq, worker, trial, row, first, n))
        seq += 1
        return True

    for w in range(workers):
        if not start(w, 0.0):
            break
    while heap:
        now, _, worker, trial, row, epoch, n = heapq.heappop(heap)
        value = table.value(row, epoch)
        total += 1
        decision = trial.report(epoch, {table.metric: value})
        finished = False
        if trial.is_finished:  # failed on a non-finite value
            finished = True
        elif epoch >= n:
            trial.complete()
            finished = True
            better = best_obs is None or sign * value > sign * best_obs
            if n >= full and trial.state is TrialState.COMPLETED and better:
                best_obs, incumbent = value, table.final(row)
        elif decision is Decision.STOP:
            trial.prune()  # PAUSED under a promotion scheduler: it may be resumed
            finished = True
        event = Event(now, worker, trial.number, row, epoch, value, total, incumbent)
        result.events.append(event)
        if on_event is not None:
            on_event(event)
        if finished:
            result.trials[trial.number] = (row, trial.state)
        reached = target is not None and incumbent is not None and sign * incumbent >= sign * target
        if reached or (max_epochs is not None and total >= max_epochs):
            running = [(t, r) for *_, t, r, _e, _n in heap]
            if not finished:
                running.append((trial, row))
            for t, r in running:
                t.fail("simulation ended")
                result.trials[t.number] = (r, TrialState.FAILED)
            break
        if finished:
            start(worker, now)
        else:
            dt = table.duration(row, epoch + 1) if use_time else 1.0
            heapq.heappush(heap, (now + dt, seq, worker, trial, row, epoch + 1, n))
            seq += 1
    return result
