"""The sweep file: a pydantic model of both dialects, normalized to the library's objects.

:func:`load_sweep` reads a YAML file and returns a :class:`Sweep` (search
space, metrics, budget, fidelity, command, resources). Every error starts with
the YAML path of the problem and says how to fix it. See docs/launch.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from tunehooks._urls import mask_url
from tunehooks.fidelity import Fidelity
from tunehooks.launch._options import options_problem
from tunehooks.launch._parameters import build_space
from tunehooks.launch._schema import OnFailureSpec, ResourcesSpec, SweepError, SweepSpec, explain
from tunehooks.launch._sections import (
    budget_of,
    command_of,
    fidelity_of,
    method_of,
    metrics_of,
    templates_of,
)
from tunehooks.launch._yaml import read_yaml
from tunehooks.launch.dialects import Prepared, prepare
from tunehooks.launch.layout import ParamLayout
from tunehooks.launch.macros import check_command
from tunehooks.launch.policy import FailurePolicy
from tunehooks.metrics import Budget, Metric
from tunehooks.optimizers.base import Method
from tunehooks.params import SpaceError
from tunehooks.space import SearchSpace

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment
    from tunehooks.schedulers import Scheduler

__all__ = ["Sweep", "SweepError", "SweepSpec", "load_sweep", "parse_sweep"]

DEFAULT_STORAGE_TIMEOUT = 300.0
"""``storage_timeout``: seconds the launcher keeps trials running (their reports in memory)
while the database is unavailable, before it gives up."""
MAX_WORKERS = 1024


@dataclass(frozen=True)
class Sweep:
    """A validated, normalized sweep.

    Example:
        >>> sweep = parse_sweep({
        ...     "name": "demo", "program": "train.py", "method": "random",
        ...     "metric": {"name": "acc", "goal": "maximize"},
        ...     "parameters": {"lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 0.1}},
        ...     "run_cap": 4})
        >>> sweep.space.names, sweep.budget.trials, sweep.command
        (['lr'], 4, ('${env}', '${interpreter}', '${program}', '${args}'))
    """

    name: str
    space: SearchSpace
    metrics: tuple[Metric, ...]
    command: tuple[str, ...]
    method: Method = Method.BAYES
    budget: Budget | None = None
    fidelity: Fidelity | None = None
    program: str | None = None
    storage: str | None = None
    workers: int | None = None
    gpus_per_trial: float = 1
    devices: tuple[str, ...] | None = None
    failure: FailurePolicy = field(default_factory=FailurePolicy)
    enqueue: tuple[Mapping[str, Any], ...] = ()
    seed: int | None = None
    optimizer_options: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None
    storage_timeout: float = DEFAULT_STORAGE_TIMEOUT
    dialect: str = "tunehooks"
    notes: tuple[str, ...] = ()
    layout: ParamLayout = field(default_factory=ParamLayout)
    clients: tuple[str, ...] = ()
    open_rungs: bool = False
    templates: tuple[str, ...] = ()
    checkpoint_dir: Path | None = None
    """Where the trials' checkpoints live (``$TUNEHOOKS_CHECKPOINT_DIR``): a relative
    path is read from the sweep file's folder; ``None``: each trial's run folder."""

    def with_trials(self, trials: int) -> Sweep:
        """The sweep with a trial budget of ``trials`` (``--trials N``), its cost budget kept."""
        try:
            budget = Budget(trials, cost=None if self.budget is None else self.budget.cost)
        except ValueError:
            raise SweepError(f"--trials: a positive whole number (got {trials!r})") from None
        return replace(self, budget=budget)

    executor: str = "local"
    cpus_per_trial: float = 1.0
    memory_gb: float | None = None

    @property
    def retries(self) -> int:
        """``on_failure.retries``: new attempts of a trial that crashed."""
        return self.failure.retries

    @property
    def program_path(self) -> str | None:
        """``program`` resolved against the sweep file's folder."""
        from tunehooks.launch.checks import module_program

        if self.program is None or self.path is None or os.path.isabs(self.program):
            return self.program
        if module_program(self.command):  # `-m ${program}`: a module name
            return self.program
        return os.path.normpath(os.path.join(self.path.parent, self.program))

    def to_dict(self) -> dict[str, Any]:
        """The normalized sweep, as plain data (what ``--dry-run`` prints)."""
        return {
            "name": self.name,
            "dialect": self.dialect,
            "storage": None if self.storage is None else mask_url(self.storage),
            "program": self.program_path,
            "command": list(self.command),
            "method": self.method.value,
            "metrics": [
                {k: v for k, v in m.to_dict().items() if v is not None} for m in self.metrics
            ],
            "parameters": {
                n: {k: v for k, v in p.to_dict().items() if _shown(k, v)}
                for n, p in self.space.params.items()
            },
            "linear_constraints": [c.describe() for c in self.space.constraints],
            "budget": None if self.budget is None else self.budget.to_dict(),
            "resources": {
                "workers": self.workers,
                "gpus_per_trial": self.gpus_per_trial,
                "devices": None if self.devices is None else list(self.devices),
            },
            "fidelity": self._fidelity_dict(),
            "on_failure": self.failure.to_dict(),
            "storage_timeout": self.storage_timeout,
            "enqueue": [dict(e) for e in self.enqueue],
            "seed": self.seed,
        }

    def _fidelity_dict(self) -> dict[str, Any] | None:
        """The fidelity, with the rungs where the scheduler decides (W&B's bands)."""
        if self.fidelity is None:
            return None
        out = self.fidelity.to_dict()
        if self.fidelity.tasks is None and self.fidelity.scheduler.value != "none":
            levels = [int(v) if float(v).is_integer() else v for v in self.fidelity.levels()]
            if self.open_rungs:
                out["max"] = None
                out["rungs"] = [*levels[:6], "... as long as the program reports"]
            else:
                out["rungs"] = levels
        return out

    def open_experiment(
        self, *, storage: str | None = None, scheduler: Scheduler | None = None
    ) -> Experiment:
        """Load the sweep's experiment, or create it (and queue ``enqueue``) on first launch."""
        from tunehooks.storage import DuplicateExperimentError

        url = storage or self.storage
        try:
            exp = self._create(url, scheduler, load_if_exists=False)
        except DuplicateExperimentError:  # a relaunch, or another host created it first
            return self._create(url, scheduler, load_if_exists=True)  # same config or an error
        for params in self.enqueue:
            exp.enqueue(params)
        return exp

    def _create(
        self, url: str | None, scheduler: Scheduler | None, *, load_if_exists: bool
    ) -> Experiment:
        from tunehooks.experiment import ConfigMismatchError, Experiment

        try:
            return Experiment.create(
                self.name,
                self.space,
                metrics=self.metrics,
                budget=self.budget or Budget(),  # none: until stopped
                storage=url,
                method=self.method,
                seed=self.seed,
                fidelity=self.fidelity,
                optimizer_options=self.optimizer_options,
                load_if_exists=load_if_exists,
                scheduler=scheduler,
            )
        except TypeError as e:  # a bad optimizer_options entry: the optimizer is built first
            raise SweepError(
                options_problem(self.method, self.fidelity, self.optimizer_options, e)
            ) from None
        except ConfigMismatchError as e:
            raise SweepError(
                f"name: experiment {self.name!r} already exists in the storage with a "
                f"different {', '.join(e.differ)}; give the sweep a new `name:` (only "
                "`budget` may change when a sweep is relaunched)"
            ) from None


def _shown(key: str, value: Any) -> bool:
    return value is not None and value is not False and not (key == "step" and value == 1)


# -- loading ---------------------------------------------------------------------------------
def load_sweep(path: str | os.PathLike[str]) -> Sweep:
    """Read and validate a sweep file (see docs/launch.md for the format)."""
    p = Path(path)
    data = read_yaml(p)
    if not isinstance(data, dict):
        raise SweepError(f"{p}: expected a mapping of keys (name, program, parameters, ...)")
    default_name = f"{p.parent.resolve().name}-{p.stem}" if p.stem == "sweep" else p.stem
    return parse_sweep(data, path=p, default_name=default_name)


def parse_sweep(
    data: Mapping[str, Any], *, path: Path | None = None, default_name: str = "sweep"
) -> Sweep:
    """Validate a sweep given as a mapping (the parsed YAML) and normalize it."""
    try:
        prepared = prepare(data, path)
        try:
            spec = SweepSpec.model_validate(prepared.data)
        except ValidationError as e:
            raise SweepError(explain(e)) from None
        return _normalize(spec, prepared, path=path, default_name=default_name)
    except SweepError as e:
        raise SweepError(_one_line(str(e))) from None


def _one_line(message: str) -> str:
    """A message on one line of at most 400 characters (a user's 5,000-character value is cut).

    Example:
        >>> _one_line("method: use one of bayes (got '" + "x" * 500 + "')")[:44]
        "method: use one of bayes (got 'xxxxxxxxxxxxx"
    """
    text = re.sub(r"\S{80,}", lambda m: m.group(0)[:60] + "…", " ".join(message.split()))
    return text if len(text) <= 400 else text[:399] + "…"


def _normalize(
    spec: SweepSpec, prepared: Prepared, *, path: Path | None, default_name: str
) -> Sweep:
    metrics = metrics_of(spec)
    space = build_space(spec)
    method = method_of(spec)
    budget = budget_of(spec)  # None: until stopped (or `--trials N`)
    fidelity, open_rungs = fidelity_of(spec, metrics)
    command = command_of(spec)
    check_command(
        command,
        has_fidelity=fidelity is not None and not open_rungs,
        has_tasks=fidelity is not None and fidelity.tasks is not None,
        params=space.names,
    )
    enqueue = []
    for i, params in enumerate(spec.enqueue or []):
        try:
            enqueue.append(space.validate(params))
        except SpaceError as e:
            raise SweepError(f"enqueue[{i}]: {e}") from None
    res = spec.resources or ResourcesSpec()
    workers = res.workers
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise SweepError(f"resources.workers: must be between 1 and {MAX_WORKERS} (got {workers})")
    if not 0 <= res.gpus_per_trial <= 64:
        raise SweepError(
            f"resources.gpus_per_trial: must be between 0 and 64 (got {res.gpus_per_trial})"
        )
    if spec.seed is not None and not 0 <= spec.seed < 2**32:
        raise SweepError(f"seed: must be between 0 and 2**32-1 (got {spec.seed})")
    timeout = DEFAULT_STORAGE_TIMEOUT if spec.storage_timeout is None else spec.storage_timeout
    if not 0 <= timeout <= 7 * 86400:
        raise SweepError(
            f"storage_timeout: seconds between 0 and 604800 (got {spec.storage_timeout})"
        )
    of = spec.on_failure or OnFailureSpec()
    return Sweep(
        name=spec.name or default_name,
        space=space,
        metrics=tuple(metrics),
        command=tuple(command),
        method=method,
        budget=budget,
        fidelity=fidelity,
        program=spec.program,
        storage=spec.storage,
        workers=workers,
        gpus_per_trial=res.gpus_per_trial,
        devices=None if res.devices is None else tuple(str(d) for d in res.devices),
        failure=FailurePolicy(
            retries=of.retries,
            stop_after=of.stop_after,
            max_failure_rate=of.max_failure_rate,
            rate_after=of.rate_after,
        ),
        storage_timeout=float(timeout),
        enqueue=tuple(enqueue),
        seed=spec.seed,
        optimizer_options=dict(spec.optimizer_options or {}),
        path=path,
        dialect=prepared.dialect,
        notes=prepared.notes,
        layout=ParamLayout(
            nested=prepared.nested, flag_style=prepared.flag_style, nulls=prepared.nulls
        ),
        clients=prepared.clients,
        open_rungs=open_rungs,
        templates=templates_of(spec, path),
        checkpoint_dir=_checkpoint_dir(spec.checkpoint_dir, path),
        executor=res.executor or "local",
        cpus_per_trial=float(res.cpus_per_trial),
        memory_gb=None if res.memory_gb is None else float(res.memory_gb),
    )


def _checkpoint_dir(value: str | None, path: Path | None) -> Path | None:
    if value is None:
        return None
    if not value.strip():
        raise SweepError(
            "checkpoint_dir: empty; give a folder (e.g. `checkpoint_dir: /shared/ckpt`)"
        )
    folder = Path(value).expanduser()
    if not folder.is_absolute():
        folder = (path.parent if path is not None else Path.cwd()) / folder
    return folder.resolve()
