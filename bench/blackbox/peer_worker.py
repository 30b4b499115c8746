"""One peer optimizer in its own environment, driven over JSON lines on stdin/stdout.

Runs under a peer's venv (bench/.venvs/<peer>/bin/python) and imports neither
tunehooks nor the benchmark problems: objectives run in the benchmark's process.

Protocol. The first line is a job::

    {"method": "optuna_tpe", "space": <SearchSpace.to_dict()>, "seed": 0, "mode": "run"}

The worker answers ``{"versions": {...}}``. In ``run`` mode the benchmark then
writes ``{"ask": 1}`` (answered by ``{"params": {...}, "ask_s": seconds}``) and
``{"value": y}`` (the minimized objective of the last ask), until stdin closes. In ``overhead`` mode the job also carries
``"history": [{"params": ..., "value": ...}]`` and ``"repeats": k``; the worker
tells the whole history, times ``k`` asks and writes ``{"ask_s": [...]}``.

Methods: optuna_tpe (multivariate, group), optuna_gp (GPSampler), hebo, smac (HPO facade),
ax (Ax's Client, default generation strategy: Sobol then a BoTorch GP).
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

Params = dict[str, Any]


def _active(p: dict[str, Any], values: Params) -> bool:
    for parent, allowed in (p.get("condition") or {}).items():
        if parent not in values or values[parent] not in allowed:
            return False
    return True


def _prune(space: dict[str, Any], values: Params) -> Params:
    """Keep the active parameters only (parents come before children in our spaces)."""
    out: Params = {}
    for p in space["params"]:
        if p["type"] == "constant" or not _active(p, out):
            continue
        out[p["name"]] = values[p["name"]]
    return out


def _native(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    return v


# -- Optuna ---------------------------------------------------------------------------------
class OptunaPeer:
    def __init__(
        self, method: str, space: dict[str, Any], seed: int, n_trials: int | None = None
    ) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if method == "optuna_tpe":
            sampler: Any = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
        else:
            sampler = optuna.samplers.GPSampler(seed=seed)
        self.optuna = optuna
        self.space = space
        self.study = optuna.create_study(sampler=sampler, direction="minimize")
        self.trial: Any = None

    def _suggest(self, trial: Any) -> Params:
        out: Params = {}
        for p in self.space["params"]:
            name, kind = p["name"], p["type"]
            if kind == "constant" or not _active(p, out):
                continue
            if kind == "float":
                out[name] = trial.suggest_float(name, p["low"], p["high"], log=p["log"])
            elif kind == "categorical":
                out[name] = trial.suggest_categorical(name, p["choices"])
            elif p["power_of_two"]:
                lo, hi = int(math.log2(p["low"])), int(math.log2(p["high"]))
                out[name] = 2 ** trial.suggest_int(name + "_log2", lo, hi)
            else:
                out[name] = trial.suggest_int(
                    name, p["low"], p["high"], log=p["log"], step=p["step"]
                )
        return out

    def ask(self) -> Params:
        self.trial = self.study.ask()
        return self._suggest(self.trial)

    def tell(self, value: float) -> None:
        self.study.tell(self.trial, value)

    def observe(self, history: list[dict[str, Any]]) -> None:
        from optuna.trial import FixedTrial, create_trial

        trials = []
        for h in history:
            fixed = {}
            for p in self.space["params"]:
                if p["name"] in h["params"]:
                    v = h["params"][p["name"]]
                    two = p["type"] == "int" and p["power_of_two"]
                    fixed[p["name"] + "_log2" if two else p["name"]] = (
                        int(math.log2(v)) if two else v
                    )
            ft = FixedTrial(fixed)
            self._suggest(ft)
            trials.append(
                create_trial(params=fixed, distributions=dict(ft.distributions), value=h["value"])
            )
        self.study.add_trials(trials)


# -- HEBO -----------------------------------------------------------------------------------
class HeboPeer:
    def __init__(
        self, method: str, space: dict[str, Any], seed: int, n_trials: int | None = None
    ) -> None:
        import numpy as np
        import torch
        from hebo.design_space.design_space import DesignSpace
        from hebo.optimizers.hebo import HEBO

        try:
            from pymoo.config import Config

            Config.warnings["not_compiled"] = False
        except ImportError:
            pass
        np.random.seed(seed)
        torch.manual_seed(seed)
        self.space = space
        spec = []
        for p in space["params"]:
            name, kind = p["name"], p["type"]
            if kind == "float":
                t = "pow" if p["log"] else "num"
                spec.append({"name": name, "type": t, "lb": p["low"], "ub": p["high"]})
            elif kind == "categorical":
                spec.append({"name": name, "type": "cat", "categories": list(p["choices"])})
            elif kind == "int" and p["power_of_two"]:
                spec.append(
                    {"name": name, "type": "int_exponent", "lb": p["low"], "ub": p["high"],
                     "base": 2}
                )  # fmt: skip
            elif kind == "int":
                t = "pow_int" if p["log"] else "int"
                spec.append({"name": name, "type": t, "lb": p["low"], "ub": p["high"]})
        self.design = DesignSpace().parse(spec)
        self.opt = HEBO(self.design, scramble_seed=seed)
        self.last: Any = None

    def ask(self) -> Params:
        self.last = self.opt.suggest(n_suggestions=1)
        row = {k: _native(v) for k, v in self.last.iloc[0].to_dict().items()}
        return _prune(self.space, row)

    def tell(self, value: float) -> None:
        import numpy as np

        self.opt.observe(self.last, np.array([[value]]))

    def observe(self, history: list[dict[str, Any]]) -> None:
        import numpy as np
        import pandas as pd

        rows = []
        for h in history:
            row = {}
            for p in self.space["params"]:
                if p["type"] == "constant":
                    continue
                default = p["choices"][0] if p["type"] == "categorical" else p["low"]
                row[p["name"]] = h["params"].get(p["name"], default)
            rows.append(row)
        X = pd.DataFrame(rows, columns=self.design.para_names)
        self.opt.observe(X, np.array([[h["value"]] for h in history]))


# -- SMAC3 ----------------------------------------------------------------------------------
class SmacPeer:
    def __init__(
        self, method: str, space: dict[str, Any], seed: int, n_trials: int | None = None
    ) -> None:
        from ConfigSpace import (
            Categorical,
            ConfigurationSpace,
            EqualsCondition,
            Float,
            InCondition,
            Integer,
        )
        from smac import HyperparameterOptimizationFacade as HPO
        from smac import Scenario

        self.space = space
        cs = ConfigurationSpace(seed=seed)
        hps: dict[str, Any] = {}
        for p in space["params"]:
            name, kind = p["name"], p["type"]
            if kind == "float":
                hps[name] = Float(name, (p["low"], p["high"]), log=p["log"])
            elif kind == "categorical":
                hps[name] = Categorical(name, list(p["choices"]))
            elif kind == "int" and p["power_of_two"]:
                lo, hi = int(math.log2(p["low"])), int(math.log2(p["high"]))
                hps[name] = Integer(name + "_log2", (lo, hi))
            elif kind == "int":
                hps[name] = Integer(name, (p["low"], p["high"]), log=p["log"])
        cs.add(list(hps.values()))
        for p in space["params"]:
            for parent, allowed in (p.get("condition") or {}).items():
                child, par = hps[p["name"]], hps[parent]
                allowed = list(allowed)
                cond = (
                    EqualsCondition(child, par, allowed[0])
                    if len(allowed) == 1
                    else InCondition(child, par, allowed)
                )
                cs.add(cond)
        self.tmp = tempfile.TemporaryDirectory()
        # n_trials sets SMAC's default initial design: min(10 per parameter, 25% of n_trials).
        # Timing asks on a given history (n_trials=None) needs no initial design at all.
        scenario = Scenario(
            cs,
            deterministic=True,
            n_trials=n_trials or 100_000,
            seed=seed,
            output_directory=self.tmp.name,
        )
        design = HPO.get_initial_design(scenario, n_configs=0 if n_trials is None else None)
        self.smac = HPO(
            scenario,
            target_function=lambda config, seed=0: 0.0,
            intensifier=HPO.get_intensifier(scenario, max_config_calls=1),
            initial_design=design,
            overwrite=True,
            logging_level=40,
        )
        self.initial_design = len(design.select_configurations())
        self.cs = cs
        self.info: Any = None

    def _to_params(self, config: Any) -> Params:
        out: Params = {}
        for k, v in dict(config).items():
            v = _native(v)
            if k.endswith("_log2"):
                out[k[: -len("_log2")]] = 2 ** int(v)
            else:
                out[k] = v
        return _prune(self.space, out)

    def ask(self) -> Params:
        self.info = self.smac.ask()
        return self._to_params(self.info.config)

    def tell(self, value: float) -> None:
        from smac.runhistory.dataclasses import TrialValue

        self.smac.tell(self.info, TrialValue(cost=value))

    def observe(self, history: list[dict[str, Any]]) -> None:
        from ConfigSpace import Configuration
        from smac.runhistory.dataclasses import TrialInfo, TrialValue

        for h in history:
            vals = {}
            for p in self.space["params"]:
                if p["name"] in h["params"]:
                    v = h["params"][p["name"]]
                    if p.get("power_of_two"):
                        vals[p["name"] + "_log2"] = int(math.log2(v))
                    else:
                        vals[p["name"]] = v
            info = TrialInfo(Configuration(self.cs, values=vals), seed=0)
            self.smac.tell(info, TrialValue(cost=h["value"]))


# -- Ax (BoTorch) ---------------------------------------------------------------------------
class AxPeer:
    """Ax's Client with its default generation strategy (Sobol, then a BoTorch GP).

    The space is flat: conditional parameters are always proposed and dropped
    from the configuration when their parent switches them off (as for HEBO)."""

    def __init__(
        self, method: str, space: dict[str, Any], seed: int, n_trials: int | None = None
    ) -> None:
        import logging

        from ax.api.client import Client
        from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

        logging.disable(logging.WARNING)  # Ax logs every trial at INFO
        self.space = space
        self.choices: dict[str, dict[str, Any]] = {}
        params: list[Any] = []
        for p in space["params"]:
            name, kind = p["name"], p["type"]
            if kind == "float":
                params.append(
                    RangeParameterConfig(
                        name, (float(p["low"]), float(p["high"])), "float",
                        scaling="log" if p["log"] else None,
                    )
                )  # fmt: skip
            elif kind == "categorical":
                # choices travel as strings (Ax's choice values have one type each)
                self.choices[name] = {str(v): v for v in p["choices"]}
                params.append(
                    ChoiceParameterConfig(name, list(self.choices[name]), "str", is_ordered=False)
                )
            elif kind == "int" and p["power_of_two"]:
                lo, hi = int(math.log2(p["low"])), int(math.log2(p["high"]))
                params.append(
                    ChoiceParameterConfig(name, [2**k for k in range(lo, hi + 1)], "int",
                                          is_ordered=True)
                )  # fmt: skip
            elif kind == "int":
                params.append(
                    RangeParameterConfig(
                        name, (int(p["low"]), int(p["high"])), "int",
                        scaling="log" if p["log"] else None,
                    )
                )  # fmt: skip
        self.client = Client(random_seed=seed)
        self.client.configure_experiment(parameters=params)
        self.client.configure_optimization(objective="-objective")
        self.trial: int | None = None

    def ask(self) -> Params:
        (self.trial, params), *_ = self.client.get_next_trials(max_trials=1).items()
        row = {
            k: self.choices[k][v] if k in self.choices else _native(v) for k, v in params.items()
        }
        return _prune(self.space, row)

    def tell(self, value: float) -> None:
        if self.trial is not None:
            self.client.complete_trial(self.trial, raw_data={"objective": float(value)})

    def observe(self, history: list[dict[str, Any]]) -> None:
        for h in history:
            row = {}
            for p in self.space["params"]:
                if p["type"] == "constant":
                    continue
                default = p["choices"][0] if p["type"] == "categorical" else p["low"]
                v = h["params"].get(p["name"], default)
                row[p["name"]] = str(v) if p["name"] in self.choices else v
            i = self.client.attach_trial(parameters=row)
            self.client.complete_trial(i, raw_data={"objective": float(h["value"])})


PEERS: dict[str, Callable[..., Any]] = {
    "optuna_tpe": OptunaPeer,
    "optuna_gp": OptunaPeer,
    "hebo": HeboPeer,
    "smac": SmacPeer,
    "ax": AxPeer,
}
PACKAGES = {
    "optuna_tpe": ["optuna"],
    "optuna_gp": ["optuna", "torch"],
    "hebo": ["HEBO", "torch"],
    "smac": ["smac", "ConfigSpace"],
    "ax": ["ax-platform", "botorch", "torch"],
}


def _versions(method: str) -> dict[str, str]:
    from importlib.metadata import version

    out = {"python": sys.version.split()[0]}
    for pkg in [*PACKAGES[method], "numpy", "scipy"]:
        try:
            out[pkg] = version(pkg)
        except Exception:
            out[pkg] = "?"
    return out


_PROTO: Any = None


def _send(obj: dict[str, Any]) -> None:
    _PROTO.write(json.dumps(obj) + "\n")
    _PROTO.flush()


def main() -> None:
    global _PROTO
    # the protocol keeps the real stdout; whatever a library prints goes to stderr
    _PROTO = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    job = json.loads(sys.stdin.readline())
    method = job["method"]
    seed = int(job["seed"])
    if job.get("mode") == "overhead":
        _send({"versions": _versions(method)})
        # warm-up past every startup phase, so lazy imports are not timed
        warm = PEERS[method](method, job["space"], seed + 100)
        warm.observe(job["history"][:12])
        warm.ask()
        times = []
        for r in range(int(job.get("repeats", 3))):
            peer = PEERS[method](method, job["space"], seed + r)  # fresh state each time
            peer.observe(job["history"])
            t = time.perf_counter()
            peer.ask()
            times.append(time.perf_counter() - t)
            if times[-1] > float(job.get("slow_s", 30.0)):
                break
        _send({"ask_s": times})
        return
    peer = PEERS[method](method, job["space"], seed, n_trials=int(job["evals"]))
    versions = _versions(method)
    if isinstance(peer, SmacPeer):
        versions["initial_design"] = str(peer.initial_design)
    _send({"versions": versions})
    for line in sys.stdin:
        msg = json.loads(line)
        if "value" in msg:
            peer.tell(float(msg["value"]))
            continue
        t = time.perf_counter()
        params = peer.ask()
        _send({"params": params, "ask_s": time.perf_counter() - t})


if __name__ == "__main__":
    main()
