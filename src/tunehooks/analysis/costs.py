"""What a sweep cost and what it bought."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tunehooks import budgets
from tunehooks._format import format_number
from tunehooks.analysis._data import (
    epochs_of,
    finished_in_order,
    gpu_hours_of,
    is_eligible,
    pick_metric,
)
from tunehooks.experiment import Experiment
from tunehooks.trial import TrialRecord, TrialState

__all__ = ["CostTable", "cost_table"]


@dataclass(frozen=True)
class CostTable:
    """Counts and costs of a sweep, and what each step of improvement cost.

    ``first`` is the value of the first design (the first eligible trial to
    finish, typically the enqueued baseline); ``improvement`` is how much the
    best beats it, in the metric's favourable direction. The ``*_per_point``
    costs divide the whole sweep's cost by ``improvement / point``; they are
    ``None`` when nothing improved. ``hours`` adds up the trials' wall-clock
    time; ``gpu_hours`` is that times ``gpus_per_trial``, and ``None`` when the
    number of GPUs was not given (the database does not record devices).

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-cost-table", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("acc", goal="maximize")], budget=th.Budget(trials=2),
        ...     storage="sqlite://", method="random")
        >>> for t, acc in zip(exp.ask_loop(), [0.80, 0.90]):
        ...     _ = t.complete({"acc": acc})
        >>> table = cost_table(exp)
        >>> table.trials, table.completed, table.full_trainings, round(table.improvement, 2)
        (2, 2, 2.0, 0.1)
    """

    metric: str
    goal: str
    trials: int
    completed: int
    pruned: int
    failed: int
    running: int
    queued: int
    epochs: float
    full_trainings: float
    hours: float
    gpu_hours: float | None
    gpus_per_trial: float | None
    first: float | None
    best: float | None
    improvement: float | None
    point: float
    trials_per_point: float | None
    epochs_per_point: float | None
    gpu_hours_per_point: float | None

    def rows(self) -> list[tuple[str, str]]:
        """(label, formatted value) pairs, for a table a reader understands."""
        f = format_number
        step = f"{'+' if self.goal == 'maximize' else '−'}{f(self.point)} {self.metric}"
        rows = [
            ("trials started", str(self.trials)),
            ("completed / pruned / failed", f"{self.completed} / {self.pruned} / {self.failed}"),
            ("running / queued", f"{self.running} / {self.queued}"),
            ("epochs trained, all trials", format(self.epochs, ".0f")),
            (
                "cost in full trainings",
                f"{self.full_trainings:.2f} (a pruned trial counts the part it trained)",
            ),
            ("trial-hours (wall clock, added up)", f(self.hours, digits=3)),
        ]
        if self.gpu_hours is not None and self.gpus_per_trial is not None:
            rows.append(
                (
                    "GPU-hours",
                    f"{f(self.gpu_hours, digits=3)} ({f(self.gpus_per_trial)} GPU per trial)",
                )
            )
        rows += [
            (f"first design's {self.metric}", "-" if self.first is None else f(self.first)),
            (f"best {self.metric}", "-" if self.best is None else f(self.best)),
        ]
        if self.improvement and self.first is not None and self.best is not None:
            sign = "+" if self.best >= self.first else "−"
            gain = f"{sign}{f(abs(self.best - self.first))} ({f(self.first)} → {f(self.best)})"
            parts = [f"{f(self.trials_per_point, digits=3)} trials"]
            parts.append(f"{f(self.epochs_per_point, digits=3)} epochs")
            if self.gpu_hours_per_point is not None:
                parts.append(f"{f(self.gpu_hours_per_point, digits=3)} GPU-hours")
            rows += [
                ("improvement over the first design", gain),
                (f"cost of each {step} of improvement", " · ".join(parts)),
            ]
        else:
            rows.append(("improvement over the first design", "none yet"))
        return rows


def cost_table(
    exp: Experiment,
    *,
    metric: str | None = None,
    point: float = 0.01,
    trials: Sequence[TrialRecord] | None = None,
    gpus_per_trial: float | None = None,
) -> CostTable:
    """The cost table of ``exp`` (``point``: the size of one point of ``metric``).

    Epochs are the last reported step of each trial; GPU-hours (only with
    ``gpus_per_trial``) are each finished trial's wall-clock time times it.

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-cost", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("acc", goal="maximize")], budget=th.Budget(trials=3),
        ...     storage="sqlite://", method="random")
        >>> for t, acc in zip(exp.ask_loop(), [0.80, 0.85, 0.90]):
        ...     for epoch in (1, 2):
        ...         _ = t.report(epoch, {"acc": acc})
        ...     _ = t.complete()
        >>> table = cost_table(exp)
        >>> round(table.improvement, 2), table.epochs, round(table.epochs_per_point, 2)
        (0.1, 6.0, 0.6)
    """
    if not point > 0 or not math.isfinite(point):
        raise ValueError(f"point must be a positive number (got {point!r})")
    m = pick_metric(exp.metrics, metric)
    history = exp.get_trials() if trials is None else trials
    counts = dict.fromkeys(TrialState, 0)
    for t in history:
        counts[t.state] += 1
    started = [t for t in history if t.state is not TrialState.QUEUED]
    epochs = sum(epochs_of(t) for t in started)
    hours = sum(gpu_hours_of(t, 1.0) for t in started)
    if gpus_per_trial is not None and not (gpus_per_trial > 0 and math.isfinite(gpus_per_trial)):
        raise ValueError(f"gpus_per_trial must be a positive number (got {gpus_per_trial!r})")
    gpu_hours = None if gpus_per_trial is None else hours * gpus_per_trial
    full = budgets.budget_used(started, exp.fidelity).cost
    first: float | None = None
    best: float | None = None
    for t in finished_in_order(history):
        v = t.value(m.name)
        if v is None or not math.isfinite(v) or not is_eligible(t, exp.metrics, exp.fidelity):
            continue
        if first is None:
            first = v
        if best is None or m.is_better(v, best):
            best = v
    improvement = None if first is None or best is None else m.sign * (best - first)
    points = None if not improvement else improvement / point
    return CostTable(
        metric=m.name,
        goal=m.goal.value if m.goal is not None else "maximize",
        trials=len(started),
        completed=counts[TrialState.COMPLETED],
        pruned=counts[TrialState.PRUNED],
        failed=counts[TrialState.FAILED],
        running=counts[TrialState.RUNNING],
        queued=counts[TrialState.QUEUED],
        epochs=epochs,
        full_trainings=full,
        hours=hours,
        gpu_hours=gpu_hours,
        gpus_per_trial=gpus_per_trial,
        first=first,
        best=best,
        improvement=improvement,
        point=point,
        trials_per_point=None if not points else len(started) / points,
        epochs_per_point=None if not points else epochs / points,
        gpu_hours_per_point=None if not points or gpu_hours is None else gpu_hours / points,
    )
