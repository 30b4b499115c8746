"""The SigOpt dialects: API experiment files, Orchestrate experiment files, and
sigopt-python's ``experiment.yml`` (with its ``run.yml`` beside it).

- Orchestrate (``sigopt run`` / ``orchestrate.yml``): ``optimization:`` holds
  ``metrics``, ``parameters``, ``tasks``, ``parallel_bandwidth``, ``observation_budget``;
  ``run:`` is a command string, split as a POSIX shell would split it but never run
  through a shell (a leading ``python`` is the launcher's interpreter);
  ``resources_per_model: {gpus: N}`` is ``gpus_per_trial``; ``install``, ``image``,
  ``language``, ``framework``, ``repository``, ``aws``, ... are one note line. A cluster
  file (``cluster_name``, ``cloud_provider``) is told apart and refused with what to give.
- sigopt-python ``experiment.yml``: ``budget: N``, parameters as a list; the command is
  ``run:`` of the ``run.yml`` in the same folder (``resources.gpus`` there too).
- Everywhere: ``objective`` is ``goal`` (SigOpt's default: maximize), ``type: offline``
  is bayes, ``observation_budget`` the trial budget, ``parallel_bandwidth`` the workers,
  ``tasks`` keep their names (the fidelity's tasks).

Example:
    >>> p = prepare({"name": "m", "run": "python model.py --epochs 3",
    ...     "optimization": {"metrics": [{"name": "accuracy"}], "observation_budget": 5,
    ...         "parameters": [{"name": "lr", "type": "double", "bounds": {"min": 0, "max": 1}}]},
    ...     "image": "orchestrate/x"})
    >>> p.data["command"], p.data["program"]
    (['${interpreter}', '${program}', '--epochs', '3'], 'model.py')
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunehooks.launch.dialects._common import (
    Prepared,
    SweepError,
    ignored_note,
    move_budget,
    move_workers,
    take_ignored,
)

__all__ = ["NAME", "detect", "prepare", "split_run"]

NAME = "sigopt"
_ORCHESTRATE_IGNORED = (
    "install",
    "image",
    "language",
    "framework",
    "repository",
    "aws",
    "build_image",
    "pythonpath",
    "sigopt",
    "job_spec_patch",
    "kubernetes_version",
    "project",
)
_OPTIMIZATION = {
    "metrics",
    "parameters",
    "tasks",
    "parallel_bandwidth",
    "observation_budget",
    "linear_constraints",
    "conditionals",
    "type",
    "budget",
}
_OPTIMIZATION_IGNORED = ("metadata", "project", "name")
_REFUSED = {
    "num_solutions": "several solutions are not searched for; remove it",
    "parameter_constraints": "use `linear_constraints` (the SigOpt API's form)",
}
_CLUSTER = ("cluster_name", "cloud_provider")
_MARKERS = ("optimization", "observation_budget", "parallel_bandwidth", "conditionals")
_PYTHON = ("python", "python3")


def detect(data: Mapping[str, Any]) -> bool:
    """A SigOpt file: Orchestrate keys, SigOpt-only keys, parameters as a list or a metric
    with ``objective``."""
    if any(k in data for k in _MARKERS + _CLUSTER):
        return True
    if isinstance(data.get("type"), str) and "method" not in data:
        return True
    if isinstance(data.get("parameters"), list):
        return True
    metrics = data.get("metrics")
    return isinstance(metrics, list) and any(
        isinstance(m, Mapping) and "objective" in m for m in metrics
    )


def split_run(where: str, run: Any) -> list[str]:
    """An Orchestrate ``run:`` (a string, or a list of one string) as argv words.

    Example:
        >>> split_run("run", "python train.py --name 'a b'")
        ['${interpreter}', 'train.py', '--name', 'a b']
    """
    if isinstance(run, list):
        if len(run) != 1 or not isinstance(run[0], str):
            raise SweepError(
                f"{where}: give one command (got {len(run)} items); put several in a script "
                "and run that"
            )
        run = run[0]
    if not isinstance(run, str):
        raise SweepError(f"{where}: a command string, e.g. `run: python model.py` (got {run!r})")
    try:
        words = shlex.split(run)  # split as a shell would, never run through one
    except ValueError as e:
        raise SweepError(f"{where}: cannot split {run[:60]!r} ({e})") from None
    if not words:
        raise SweepError(f"{where}: empty; give the command, e.g. `run: python model.py`")
    for bad in ("&&", "||", ";", "|", ">", "<"):
        if bad in words:
            raise SweepError(
                f"{where}: {bad!r} needs a shell, and a command is never run through one; "
                "put the commands in a script and run that"
            )
    if words[0] in _PYTHON or words[0].startswith("python3."):
        words[0] = "${interpreter}"
    return words


def prepare(data: Mapping[str, Any], path: Path | None = None) -> Prepared:
    out = dict(data)
    if any(k in out for k in _CLUSTER) and "optimization" not in out and "parameters" not in out:
        name = out.get("cluster_name", out.get("cloud_provider"))
        raise SweepError(
            f"cluster_name: this is a SigOpt Orchestrate cluster file ({name!r}), not an "
            "experiment; tunehooks launch runs the trials on this machine (or several: "
            "docs/multi-machine.md): give the experiment file, the one with `optimization:`"
        )
    ignored = take_ignored(out, _ORCHESTRATE_IGNORED)
    opt = out.pop("optimization", None)
    if opt is not None:
        if not isinstance(opt, Mapping):
            raise SweepError("optimization: should be a mapping (metrics, parameters, ...)")
        for k, v in opt.items():
            if k in _REFUSED:
                raise SweepError(f"optimization.{k}: not supported; {_REFUSED[k]}")
            if k in _OPTIMIZATION_IGNORED:
                ignored.append(f"optimization.{k}")
                continue
            if k not in _OPTIMIZATION:
                known = ", ".join(sorted(_OPTIMIZATION))
                raise SweepError(f"optimization.{k}: unknown key; known: {known}")
            if k in out:
                raise SweepError(f"optimization.{k}: given twice (at the top level too); keep one")
            out[k] = v
    for k in _REFUSED:
        if k in out:
            raise SweepError(f"{k}: not supported; {_REFUSED[k]}")
    run_from = "run"
    if "run" not in out and "command" not in out and "program" not in out and path is not None:
        beside = path.parent / "run.yml"
        if beside.is_file():
            out.update(_run_yml(beside, ignored))
            run_from = f"{beside.name}: run"
    if "run" in out:
        if "command" in out:
            raise SweepError("run: give `run` (SigOpt) or `command`, not both")
        words = split_run(run_from, out.pop("run"))
        if len(words) > 1 and words[1].endswith(".py") and "program" not in out:
            out["program"], words[1] = words[1], "${program}"
        out["command"] = words
    move_budget(out, "observation_budget")
    move_workers(out, "parallel_bandwidth")
    if "type" in out:
        kind = out.pop("type")
        methods = {"offline": "bayes", "random": "random", "grid": "grid"}
        if not isinstance(kind, str) or kind.lower() not in methods:
            raise SweepError(f"type: use offline, random or grid (got {kind!r})")
        if "method" in out:
            raise SweepError("type: give `type` (SigOpt) or `method`, not both")
        out["method"] = methods[kind.lower()]
    rpm = out.pop("resources_per_model", None)
    if rpm is not None:
        out["resources"] = _gpus("resources_per_model", rpm, out.get("resources"), ignored)
    tasks = out.pop("tasks", None)
    if tasks is not None:
        fid = dict(out.get("fidelity") or {})
        if "tasks" in fid:
            raise SweepError("tasks: given twice (fidelity.tasks too); keep one")
        fid["tasks"] = tasks
        out["fidelity"] = fid
    notes = ignored_note("SigOpt", ignored)
    metrics = out.get("metrics")
    if isinstance(metrics, list):
        for i, m in enumerate(metrics):
            if (
                isinstance(m, Mapping)
                and m.get("threshold") is not None
                and m.get("strategy", "optimize") == "optimize"
            ):
                raise SweepError(
                    f"metrics[{i}].threshold: SigOpt's metric threshold on an optimized metric "
                    "(the part of the Pareto front you care about) is not supported; remove it, "
                    "or write `strategy: constraint` to require it of every result"
                )
        filled = [
            str(m.get("name"))
            for m in metrics
            if isinstance(m, Mapping)
            and "objective" not in m
            and "goal" not in m
            and m.get("strategy", "optimize") != "store"
        ]
        out["metrics"] = [
            {**m, "objective": "maximize"}
            if isinstance(m, Mapping) and str(m.get("name")) in filled and "goal" not in m
            else m
            for m in metrics
        ]
        if filled:
            notes.append(
                f"note: objective not given: maximize, SigOpt's default ({', '.join(filled)})"
            )
    return Prepared(out, NAME, tuple(notes), clients=("sigopt",))


def _gpus(where: str, rpm: Any, resources: Any, ignored: list[str]) -> dict[str, Any]:
    if not isinstance(rpm, Mapping):
        raise SweepError(f"{where}: should be a mapping, e.g. {{gpus: 1}}")
    res = dict(resources or {})
    for k, v in rpm.items():
        if k == "gpus":
            if "gpus_per_trial" in res:
                raise SweepError(f"{where}.gpus: given twice (resources.gpus_per_trial); keep one")
            res["gpus_per_trial"] = v
        else:
            ignored.append(f"{where}.{k}")
    return res


def _run_yml(path: Path, ignored: list[str]) -> dict[str, Any]:
    from tunehooks.launch._yaml import read_yaml

    data = read_yaml(path)
    if not isinstance(data, dict):
        raise SweepError(f"{path.name}: expected a mapping (run, image, resources)")
    out: dict[str, Any] = {}
    for k, v in data.items():
        if k == "run":
            out["run"] = v
        elif k == "resources":
            out["resources"] = _gpus(f"{path.name}: resources", v, None, ignored)
        else:
            ignored.append(f"{path.name}: {k}")
    if "run" not in out:
        raise SweepError(f"{path.name}: no `run:`; add the command, e.g. `run: python model.py`")
    return out
