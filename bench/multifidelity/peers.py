"""Multi-fidelity peers on a recorded learning-curve table, on a simulated clock.

Runs inside a peer's own virtual environment (bench/.venvs/mf-<peer>), with
only numpy and the peer installed: it does not import tunehooks. The
simulation follows tunehooks.simulate's conventions: ``workers`` asynchronous
workers, each epoch lasting its recorded training time, every epoch reported
to the method, which may stop the trial, or (promotion-type methods) pause it;
a paused trial that the method resumes continues from its last epoch and pays
only its new epochs. Cost = epochs trained. A non-finite value (diverged) ends
the trial as failed. The incumbent is the best configuration trained to the
full 30 epochs, judged by its observed value, reported by its true final value.

Usage: python peers.py METHOD --table bench/data/NAME --seeds 0,1 --workers W --max-epochs N
    --out DIR/e1000-w1-s{seed}.json
Methods: random-search, optuna-tpe-hyperband, optuna-random-sha, dehb, smac-hyperband,
synetune-asha-stop, synetune-asha-promo, synetune-hyperband, synetune-bohb,
synetune-bohb-async
"""

from __future__ import annotations

import argparse
import enum
import heapq
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

FULL = 30


class Decision(enum.Enum):
    CONTINUE = "continue"
    STOP = "stop"
    PAUSE = "pause"


class Table:
    def __init__(self, base: Path) -> None:
        base = Path(str(base).removesuffix(".npz").removesuffix(".json"))
        meta = json.loads(Path(f"{base}.json").read_text())
        z = np.load(f"{base}.npz")
        self.names = list(meta["params"])
        self.values = {p: meta["params"][p]["values"] for p in self.names}
        idx = np.stack([z[f"idx_{p}"].astype(int) for p in self.names], axis=1)
        self.index = {tuple(r): i for i, r in enumerate(idx.tolist())}
        obj = meta.get("objective")
        obj = obj if isinstance(obj, dict) else {"name": "val_acc", "goal": "maximize"}
        self.maximize = obj.get("goal", "maximize") == "maximize"
        self.sign = 1.0 if self.maximize else -1.0
        self.curves = z[obj["name"]].astype(float)
        self.dt = np.diff(z["train_time"].astype(float), axis=1, prepend=0.0)
        self.dt = np.maximum(self.dt, 1e-6)
        final = self.curves[:, -1]
        self.best = float(np.nanmax(final) if self.maximize else np.nanmin(final))

    def ordered(self, p: str) -> bool:
        return not isinstance(self.values[p][0], str)

    def row(self, cfg: dict[str, Any]) -> int:
        key = tuple(
            int(cfg[p]) if self.ordered(p) else self.values[p].index(cfg[p]) for p in self.names
        )
        return self.index[key]


# -- methods --------------------------------------------------------------------------------
# ask() -> (key, config, until_epoch) | None: a new key starts at epoch 1, a known key
# (a paused trial) resumes after its last epoch; report -> Decision; finish (trained to
# until_epoch, no PAUSE/STOP there); fail (non-finite value). Values are as recorded: each
# method is told the goal.


class Optuna:
    def __init__(self, table: Table, seed: int, workers: int, kind: str) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna, self.table = optuna, table
        if kind == "tpe-hyperband":
            sampler: Any = optuna.samplers.TPESampler(seed=seed)
            pruner: Any = optuna.pruners.HyperbandPruner(
                min_resource=1, max_resource=FULL, reduction_factor=3
            )
        else:
            sampler = optuna.samplers.RandomSampler(seed=seed)
            pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
        direction = "maximize" if table.maximize else "minimize"
        self.study = optuna.create_study(direction=direction, sampler=sampler, pruner=pruner)
        self.live: dict[int, Any] = {}

    def ask(self) -> tuple[int, dict[str, Any], int]:
        t = self.study.ask()
        cfg = {}
        for p in self.table.names:
            vals = self.table.values[p]
            if self.table.ordered(p):
                cfg[p] = t.suggest_int(p, 0, len(vals) - 1)
            else:
                cfg[p] = t.suggest_categorical(p, vals)
        self.live[t.number] = t
        return t.number, cfg, FULL

    def report(self, key: int, epoch: int, value: float) -> Decision:
        t = self.live[key]
        t.report(value, epoch)
        if epoch < FULL and t.should_prune():
            self.study.tell(t, state=self.optuna.trial.TrialState.PRUNED)
            del self.live[key]
            return Decision.STOP
        return Decision.CONTINUE

    def finish(self, key: int, epoch: int, value: float) -> None:
        self.study.tell(self.live.pop(key), value)

    def fail(self, key: int) -> None:
        self.study.tell(self.live.pop(key), state=self.optuna.trial.TrialState.FAIL)


def _configspace(table: Table, seed: int) -> Any:
    import ConfigSpace as CS

    cs = CS.ConfigurationSpace(seed=seed)
    for p in table.names:
        vals = table.values[p]
        if table.ordered(p):
            cs.add(CS.UniformIntegerHyperparameter(p, 0, len(vals) - 1))
        else:
            cs.add(CS.CategoricalHyperparameter(p, vals))
    return cs


def _native(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


class DEHBMethod:
    """DEHB (Awad et al. 2021): each job trains a configuration from scratch to its fidelity."""

    def __init__(self, table: Table, seed: int, workers: int) -> None:
        from dehb import DEHB

        cs = _configspace(table, seed)
        self.table = table
        self.dehb = DEHB(
            cs=cs,
            dimensions=len(table.names),
            min_fidelity=1,
            max_fidelity=FULL,
            eta=3,
            seed=seed,
            n_workers=1,  # ask/tell from this loop; >1 would start a dask cluster
            output_path=tempfile.mkdtemp(prefix="dehb-"),
            log_level="ERROR",
        )
        self.jobs: dict[int, dict[str, Any]] = {}
        self.n = 0

    def ask(self) -> tuple[int, dict[str, Any], int]:
        job = self.dehb.ask()
        cfg = job["config"]
        cfg = dict(cfg) if hasattr(cfg, "keys") else dict(self.dehb.vector_to_configspace(cfg))
        cfg = {k: _native(v) for k, v in cfg.items()}
        key = self.n
        self.n += 1
        self.jobs[key] = job
        return key, cfg, max(1, min(FULL, round(job["fidelity"])))

    def report(self, key: int, epoch: int, value: float) -> Decision:
        return Decision.CONTINUE

    def finish(self, key: int, epoch: int, value: float) -> None:
        fitness = -value if self.table.maximize else value
        self.dehb.tell(self.jobs.pop(key), {"fitness": fitness, "cost": float(epoch)})

    def fail(self, key: int) -> None:
        self.dehb.tell(self.jobs.pop(key), {"fitness": 1e9, "cost": 1.0})


class SMACHyperband:
    """SMAC3's multi-fidelity facade (random forest + Hyperband): each trial trains from scratch."""

    def __init__(self, table: Table, seed: int, workers: int) -> None:
        from smac import MultiFidelityFacade as MF
        from smac import Scenario

        self.table = table
        self.tmp = tempfile.TemporaryDirectory()
        scenario = Scenario(
            _configspace(table, seed),
            deterministic=True,
            n_trials=100_000,
            min_budget=1,
            max_budget=FULL,
            seed=seed,
            output_directory=Path(self.tmp.name),
        )
        self.smac = MF(
            scenario,
            target_function=lambda config, seed=0, budget=FULL: 0.0,
            intensifier=MF.get_intensifier(scenario, eta=3),
            overwrite=True,
            logging_level=40,
        )
        self.infos: dict[int, Any] = {}
        self.n = 0

    def ask(self) -> tuple[int, dict[str, Any], int] | None:
        from smac.main.exceptions import ConfigurationSpaceExhaustedException

        try:
            info = self.smac.ask()
        except ConfigurationSpaceExhaustedException:  # small grids: SMAC repeats no config
            return None
        except StopIteration:  # an ask after that one: the exhaustion ended SMAC's trial
            return None  # generator for good (SMAC's own optimize loop stops on it too)
        key = self.n
        self.n += 1
        self.infos[key] = info
        cfg = {k: _native(v) for k, v in dict(info.config).items()}
        return key, cfg, max(1, min(FULL, round(float(info.budget))))

    def report(self, key: int, epoch: int, value: float) -> Decision:
        return Decision.CONTINUE

    def finish(self, key: int, epoch: int, value: float) -> None:
        from smac.runhistory.dataclasses import TrialValue

        cost = -value if self.table.maximize else value
        self.smac.tell(self.infos.pop(key), TrialValue(cost=cost, time=float(epoch)))

    def fail(self, key: int) -> None:
        from smac.runhistory import StatusType
        from smac.runhistory.dataclasses import TrialValue

        self.smac.tell(self.infos.pop(key), TrialValue(cost=1e9, status=StatusType.CRASHED))


class SyneTune:
    """Syne Tune schedulers driven as its Tuner drives them (suggest / on_trial_result / ...)."""

    def __init__(self, table: Table, seed: int, workers: int, kind: str) -> None:
        import logging
        from datetime import datetime

        logging.disable(logging.WARNING)
        from syne_tune.backend.trial_status import Trial
        from syne_tune.config_space import choice, randint
        from syne_tune.optimizer import baselines
        from syne_tune.optimizer.scheduler import SchedulerDecision

        space: dict[str, Any] = {}
        for p in table.names:
            vals = table.values[p]
            space[p] = randint(0, len(vals) - 1) if table.ordered(p) else choice(vals)
        space["epochs"] = FULL
        common: dict[str, Any] = dict(
            metric="objective",
            mode="max" if table.maximize else "min",
            resource_attr="epoch",
            max_resource_attr="epochs",
            random_seed=seed,
        )
        if kind in ("asha-stop", "asha-promo"):
            t = "stopping" if kind == "asha-stop" else "promotion"
            self.sched: Any = baselines.ASHA(
                space, grace_period=1, reduction_factor=3, type=t, **common
            )
        elif kind == "hyperband":
            self.sched = baselines.SyncHyperband(
                space, grace_period=1, reduction_factor=3, **common
            )
        elif kind == "bohb":
            self.sched = baselines.SyncBOHB(space, grace_period=1, reduction_factor=3, **common)
        elif kind == "bohb-async":
            self.sched = baselines.BOHB(
                space, grace_period=1, reduction_factor=3, type="promotion", **common
            )
        else:
            raise SystemExit(f"unknown Syne Tune method {kind}")
        self.Trial, self.now, self.SD = Trial, datetime.now, SchedulerDecision
        self.trials: dict[int, Any] = {}
        self.n = 0

    def ask(self) -> tuple[int, dict[str, Any], int] | None:
        sug = self.sched.suggest(self.n)
        if sug is None:
            return None
        if sug.spawn_new_trial_id:
            trial = self.Trial(self.n, dict(sug.config), self.now())
            self.sched.on_trial_add(trial)
            self.trials[self.n] = trial
            self.n += 1
        else:  # resume a paused trial (its config may carry a new "epochs")
            trial = self.trials[sug.checkpoint_trial_id]
            if sug.config is not None:
                trial.config = dict(sug.config)
        cfg = {k: v for k, v in trial.config.items() if k in self.names_of()}
        return trial.trial_id, cfg, int(trial.config.get("epochs", FULL))

    def names_of(self) -> set[str]:
        return {k for k in self.sched.config_space if k != "epochs"}

    def _result(self, epoch: int, value: float) -> dict[str, Any]:
        return {"epoch": epoch, "objective": value}

    def report(self, key: int, epoch: int, value: float) -> Decision:
        trial = self.trials[key]
        d = self.sched.on_trial_result(trial, self._result(epoch, value))
        if d == self.SD.STOP:
            self.sched.on_trial_remove(trial)
            return Decision.STOP
        if d == self.SD.PAUSE:
            self.sched.on_trial_remove(trial)
            return Decision.PAUSE
        return Decision.CONTINUE

    def finish(self, key: int, epoch: int, value: float) -> None:
        self.sched.on_trial_complete(self.trials[key], self._result(epoch, value))

    def fail(self, key: int) -> None:
        self.sched.on_trial_error(self.trials[key])


class RandomSearch:
    """Random configurations (without repetition), each trained for all 30 epochs."""

    def __init__(self, table: Table, seed: int, workers: int) -> None:
        self.order = np.random.default_rng(seed).permutation(len(table.index))
        self.configs = list(table.index)
        self.table, self.n = table, 0

    def ask(self) -> tuple[int, dict[str, Any], int] | None:
        if self.n >= len(self.order):
            return None
        key = self.configs[int(self.order[self.n])]
        self.n += 1
        cfg = {}
        for p, i in zip(self.table.names, key, strict=True):
            cfg[p] = i if self.table.ordered(p) else self.table.values[p][i]
        return self.n, cfg, FULL

    def report(self, key: int, epoch: int, value: float) -> Decision:
        return Decision.CONTINUE

    def finish(self, key: int, epoch: int, value: float) -> None:
        pass

    def fail(self, key: int) -> None:
        pass


def make(name: str, table: Table, seed: int, workers: int) -> Any:
    if name == "random-search":
        return RandomSearch(table, seed, workers)
    if name.startswith("optuna-"):
        return Optuna(table, seed, workers, name.split("-", 1)[1])
    if name == "dehb":
        return DEHBMethod(table, seed, workers)
    if name == "smac-hyperband":
        return SMACHyperband(table, seed, workers)
    if name.startswith("synetune-"):
        return SyneTune(table, seed, workers, name.split("-", 1)[1])
    raise SystemExit(f"unknown method {name}")


def simulate(method: Any, table: Table, workers: int, max_epochs: int) -> dict[str, Any]:
    # heap of (time, seq, key, row, epoch, until); done[key] = epochs a trial has trained
    heap: list[tuple[float, int, Any, int, int, int]] = []
    done: dict[Any, int] = {}
    rows: dict[Any, int] = {}
    seq = total = resumes = 0
    best_obs = -math.inf
    incumbent: float | None = None
    trace: list[list[float]] = []

    def start(now: float) -> bool:
        nonlocal seq, resumes
        got = method.ask()
        if got is None:
            return False
        key, cfg, until = got
        if key in done:  # resume: continue after the last epoch, pay only new ones
            resumes += 1
            first = done[key] + 1
            row = rows[key]
        else:
            first, row = 1, table.row(cfg)
            rows[key], done[key] = row, 0
        if first > until:  # nothing new to train: the method learns its last value again
            method.finish(key, done[key], float(table.curves[row, done[key] - 1]))
            return start(now)
        heapq.heappush(heap, (now + table.dt[row, first - 1], seq, key, row, first, until))
        seq += 1
        return True

    def fill(now: float) -> None:  # every free worker gets a job, while the method has one
        while len(heap) < workers and start(now):
            pass

    fill(0.0)
    while heap and total < max_epochs:
        now, _, key, row, epoch, until = heapq.heappop(heap)
        value = float(table.curves[row, epoch - 1])
        total += 1
        done[key] = epoch
        if not math.isfinite(value):
            method.fail(key)
            fill(now)
            continue
        if epoch >= FULL and table.sign * value > best_obs:
            best_obs, incumbent = table.sign * value, float(table.curves[row, -1])
            trace.append([total, incumbent, now])
            if table.sign * incumbent >= table.sign * table.best:
                break  # the table's best: nothing can change any more
        decision = method.report(key, epoch, value)
        if decision is Decision.CONTINUE and epoch < until:
            heapq.heappush(heap, (now + table.dt[row, epoch], seq, key, row, epoch + 1, until))
            seq += 1
            continue
        if decision is Decision.CONTINUE:
            method.finish(key, epoch, value)
        fill(now)
    return {"trace": trace, "total_epochs": total, "trials": len(done), "resumes": resumes}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("method")
    ap.add_argument("--table", required=True, type=Path)
    ap.add_argument("--seeds", default="0", help="comma list; one run (and --out file) each")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-epochs", type=int, default=1000)
    ap.add_argument("--out", required=True, help="output file; {seed} is replaced by the seed")
    a = ap.parse_args()
    table = Table(a.table)
    for seed in [int(s) for s in a.seeds.split(",")]:
        np.random.seed(seed)
        t0 = time.time()
        method = make(a.method, table, seed, a.workers)
        res = simulate(method, table, a.workers, a.max_epochs)
        res["wall_s"] = time.time() - t0
        res["max_epochs"] = a.max_epochs
        out = Path(a.out.replace("{seed}", str(seed)))
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(res))
        tmp.replace(out)
        print(
            f"{a.method} seed={seed} workers={a.workers}: {res['total_epochs']} epochs, "
            f"{res['trials']} trials, {res['resumes']} resumes, {res['wall_s']:.0f}s",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
