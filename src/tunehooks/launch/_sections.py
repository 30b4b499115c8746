"""The sections of a sweep file (tunehooks' own keys), each validated into the library's
objects: metrics, method, budget, fidelity, command, templates. Errors name the YAML path."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tunehooks.fidelity import Fidelity, Task
from tunehooks.launch._schema import SweepError, SweepSpec
from tunehooks.launch.dialects.wandb import hyperband_fidelity
from tunehooks.launch.macros import DEFAULT_COMMAND
from tunehooks.metrics import Budget, Metric, validate_metrics
from tunehooks.optimizers.base import Method

__all__ = ["budget_of", "command_of", "fidelity_of", "method_of", "metrics_of", "templates_of"]


def templates_of(spec: SweepSpec, path: Path | None) -> tuple[str, ...]:
    out = []
    for i, t in enumerate(spec.templates or []):
        p = Path(t) if path is None or os.path.isabs(t) else path.parent / t
        if not p.is_file():
            raise SweepError(
                f"templates[{i}]: {t!r} not found (looked up from the sweep file's folder)"
            )
        out.append(str(p))
    return tuple(out)


def metrics_of(spec: SweepSpec) -> list[Metric]:
    if spec.metric is not None and spec.metrics is not None:
        raise SweepError("metric: give `metric` (one) or `metrics` (a list), not both")
    entries = [("metric", spec.metric)] if spec.metric is not None else []
    entries += [(f"metrics[{i}]", m) for i, m in enumerate(spec.metrics or [])]
    if not entries:
        raise SweepError(
            "metrics: required; add `metric: {name: val_acc, goal: maximize}` or a `metrics:` list"
        )
    out = []
    for where, m in entries:
        if m.goal is not None and m.objective is not None:
            raise SweepError(f"{where}: give `goal` or `objective`, not both")
        goal = m.goal if m.goal is not None else m.objective
        if goal is None and m.strategy != "store":
            raise SweepError(
                f"{where}.goal: required (the W&B and SigOpt dialects default differently); "
                "add `goal: maximize` or `goal: minimize`"
            )
        try:
            out.append(Metric(m.name, goal, strategy=m.strategy, threshold=m.threshold))
        except ValueError as e:
            msg, own = str(e), f"metrics.{m.name}"
            if msg.startswith(own) and msg[len(own) : len(own) + 1] in (".", ":"):
                raise SweepError(f"{where}{msg[len(own) :]}") from None  # metric.goal: ...
            raise SweepError(f"{where}: {msg}") from None
    try:
        return validate_metrics(out)
    except ValueError as e:
        raise SweepError(str(e)) from None


def method_of(spec: SweepSpec) -> Method:
    if spec.method is not None:
        try:
            return Method(spec.method.lower())
        except ValueError:
            choices = " | ".join(m.value for m in Method)
            raise SweepError(f"method: use one of {choices} (got {spec.method!r})") from None
    return Method.BAYES


def budget_of(spec: SweepSpec) -> Budget | None:
    counts: list[tuple[str, int]] = []
    cost = None
    if isinstance(spec.budget, int):
        counts.append(("budget", spec.budget))
    elif spec.budget is not None:
        b = spec.budget
        counts += [
            (f"budget.{k}", v)
            for k, v in (
                ("trials", b.trials),
                ("run_cap", b.run_cap),
                ("observation_budget", b.observation_budget),
            )
            if v is not None
        ]
        cost = b.cost
    if len(counts) > 1:
        raise SweepError(
            f"{counts[1][0]}: the trial budget is given twice ({counts[0][0]} too); keep one"
        )
    if not counts and cost is None:
        return None
    where = counts[0][0] if counts else "budget.cost"
    try:
        return Budget(counts[0][1] if counts else None, cost=cost)
    except ValueError as e:
        raise SweepError(f"{where}: {str(e).split(' ', 1)[1]}") from None


def fidelity_of(spec: SweepSpec, metrics: Sequence[Metric]) -> tuple[Fidelity | None, bool]:
    if spec.fidelity is not None and spec.early_terminate is not None:
        raise SweepError("early_terminate: give `fidelity` or `early_terminate`, not both")
    if spec.early_terminate is not None:
        return hyperband_fidelity(spec.early_terminate)
    return _own_fidelity(spec, metrics), False


def _own_fidelity(spec: SweepSpec, metrics: Sequence[Metric]) -> Fidelity | None:
    f = spec.fidelity
    if f is None:
        return None
    if f.metric is not None and f.metric not in [m.name for m in metrics]:
        raise SweepError(
            f"fidelity.metric: {f.metric!r} is not a metric of the sweep "
            f"({[m.name for m in metrics]})"
        )
    try:
        return Fidelity(
            min=f.min,
            max=f.max,
            eta=f.eta,
            resource=f.resource,
            scheduler=f.scheduler,
            metric=f.metric,
            tasks=None if f.tasks is None else [Task(t.name, t.cost) for t in f.tasks],
        )
    except ValueError as e:
        msg = str(e)
        raise SweepError(msg if msg.startswith("fidelity") else f"fidelity: {msg}") from None


def command_of(spec: SweepSpec) -> list[str]:
    if spec.command is None:
        if spec.program is None:
            raise SweepError(
                "program: required when there is no `command`; add `program: train.py`"
            )
        return list(DEFAULT_COMMAND)
    if isinstance(spec.command, str):
        import shlex

        try:
            words = shlex.split(spec.command)  # split only: nothing is ever run through a shell
        except ValueError as e:
            raise SweepError(f"command: cannot split {spec.command[:60]!r} ({e})") from None
        if not words:
            raise SweepError(
                'command: empty; give the program to run, e.g. `command: [python, train.py, "${args}"]`'
            )
        return words
    if not spec.command or not str(spec.command[0]).strip():
        raise SweepError("command: give at least the program to run")
    return list(spec.command)
