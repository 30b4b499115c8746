"""Multi-fidelity peers on the recorded digits-MLP learning curves, on a simulated clock.

Runs inside a peer's own virtual environment (bench/.venvs/mf-<peer>), with
only numpy and the peer installed: it does not import tunehooks. The
simulation is the same as tunehooks.simulate's: ``workers`` asynchronous
workers, each epoch lasting its recorded training time, every epoch reported
to the method, which may stop the trial; the incumbent is the best
configuration trained to the full 30 epochs.

Usage: python peers.py METHOD --seed S --workers W --max-epochs N --out FILE
Methods: optuna-tpe-hyperband, dehb, synetune-mobster, synetune-hypertune
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data" / "digits-mlp"
FULL = 30


class Table:
    def __init__(self, base: Path) -> None:
        meta = json.loads(base.with_suffix(".json").read_text())
        z = np.load(base.with_suffix(".npz"))
        self.names = list(meta["params"])
        self.values = {p: meta["params"][p]["values"] for p in self.names}
        idx = np.stack([z[f"idx_{p}"].astype(int) for p in self.names], axis=1)
        self.index = {tuple(r): i for i, r in enumerate(idx.tolist())}
        self.curves = z["val_acc"].astype(float)
        self.dt = np.diff(z["train_time"].astype(float), axis=1, prepend=0.0)

    def ordered(self, p: str) -> bool:
        return not isinstance(self.values[p][0], str)

    def row(self, cfg: dict) -> int:
        key = tuple(
            int(cfg[p]) if self.ordered(p) else self.values[p].index(cfg[p]) for p in self.names
        )
        return self.index[key]


# -- methods: ask() -> (key, config dict, epochs) | None; report -> continue?; finish --------
class OptunaTPEHyperband:
    def __init__(self, table: Table, seed: int, workers: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.table = table
        self.study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=optuna.pruners.HyperbandPruner(
                min_resource=1, max_resource=FULL, reduction_factor=3
            ),
        )
        self.live: dict[int, object] = {}

    def ask(self):
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

    def report(self, key, epoch, value) -> bool:
        t = self.live[key]
        t.report(value, epoch)
        if t.should_prune():
            self.study.tell(t, state=self.optuna.trial.TrialState.PRUNED)
            del self.live[key]
            return False
        return True

    def finish(self, key, epoch, value) -> None:
        self.study.tell(self.live.pop(key), value)

    def abandon(self, key) -> None:
        pass


class DEHBMethod:
    """DEHB (Awad et al. 2021): each job trains a configuration from scratch to its fidelity."""

    def __init__(self, table: Table, seed: int, workers: int) -> None:
        import ConfigSpace as CS
        from dehb import DEHB

        cs = CS.ConfigurationSpace(seed=seed)
        for p in table.names:
            vals = table.values[p]
            if table.ordered(p):
                cs.add(CS.UniformIntegerHyperparameter(p, 0, len(vals) - 1))
            else:
                cs.add(CS.CategoricalHyperparameter(p, vals))
        self.table = table
        self.dehb = DEHB(
            cs=cs,
            dimensions=len(table.names),
            min_fidelity=1,
            max_fidelity=FULL,
            eta=3,
            seed=seed,
            n_workers=1,  # ask/tell from this loop; >1 would start a dask cluster
            output_path=f"/tmp/dehb-{seed}-{workers}-{time.time_ns()}",
            log_level="ERROR",
        )
        self.jobs: dict[int, dict] = {}
        self.n = 0

    def ask(self):
        job = self.dehb.ask()
        cfg = job["config"]
        cfg = dict(cfg) if hasattr(cfg, "keys") else dict(self.dehb.vector_to_configspace(cfg))
        key = self.n
        self.n += 1
        self.jobs[key] = job
        return key, cfg, max(1, min(FULL, round(job["fidelity"])))

    def report(self, key, epoch, value) -> bool:
        return True

    def finish(self, key, epoch, value) -> None:
        self.dehb.tell(self.jobs.pop(key), {"fitness": -value, "cost": float(epoch)})

    def abandon(self, key) -> None:
        pass


class SyneTune:
    def __init__(self, table: Table, seed: int, workers: int, kind: str) -> None:
        import logging
        from datetime import datetime

        logging.disable(logging.WARNING)
        from syne_tune.backend.trial_status import Trial
        from syne_tune.config_space import choice, randint
        from syne_tune.optimizer import baselines

        space: dict[str, object] = {}
        for p in table.names:
            vals = table.values[p]
            space[p] = randint(0, len(vals) - 1) if table.ordered(p) else choice(vals)
        space["epochs"] = FULL
        cls = {"mobster": baselines.MOBSTER, "hypertune": baselines.HyperTune}[kind]
        self.sched = cls(
            space,
            metric="val_acc",
            mode="max",
            resource_attr="epoch",
            max_resource_attr="epochs",
            grace_period=1,
            reduction_factor=3,
            type="stopping",
            random_seed=seed,
        )
        self.Trial, self.now = Trial, datetime.now
        self.trials: dict[int, object] = {}
        self.n = 0

    def ask(self):
        sug = self.sched.suggest(self.n)
        if sug is None or sug.config is None:
            return None
        trial = self.Trial(self.n, sug.config, self.now())
        self.sched.on_trial_add(trial)
        self.trials[self.n] = trial
        self.n += 1
        cfg = {k: v for k, v in sug.config.items() if k != "epochs"}
        return trial.trial_id, cfg, FULL

    def report(self, key, epoch, value) -> bool:
        d = self.sched.on_trial_result(self.trials[key], {"epoch": epoch, "val_acc": value})
        return str(getattr(d, "value", d)).upper() != "STOP"

    def finish(self, key, epoch, value) -> None:
        self.sched.on_trial_complete(self.trials[key], {"epoch": epoch, "val_acc": value})

    def abandon(self, key) -> None:
        pass


def make(name: str, table: Table, seed: int, workers: int):
    if name == "optuna-tpe-hyperband":
        return OptunaTPEHyperband(table, seed, workers)
    if name == "dehb":
        return DEHBMethod(table, seed, workers)
    if name.startswith("synetune-"):
        return SyneTune(table, seed, workers, name.split("-", 1)[1])
    raise SystemExit(f"unknown method {name}")


def simulate(method, table: Table, workers: int, max_epochs: int, target: float) -> dict:
    heap: list[tuple[float, int, int, int, int, int]] = []  # time, seq, key, row, epoch, n
    seq = total = 0
    best_obs = -np.inf
    incumbent = None
    trace: list[list[float]] = []
    n_trials = 0

    def start(now: float) -> None:
        nonlocal seq, n_trials
        got = method.ask()
        if got is None:
            return
        key, cfg, n = got
        row = table.row(cfg)
        n_trials += 1
        heapq.heappush(heap, (now + table.dt[row, 0], seq, key, row, 1, n))
        seq += 1

    for _ in range(workers):
        start(0.0)
    while heap and total < max_epochs:
        now, _, key, row, epoch, n = heapq.heappop(heap)
        value = float(table.curves[row, epoch - 1])
        total += 1
        if epoch >= n:
            method.finish(key, epoch, value)
            if epoch >= FULL and value > best_obs:
                best_obs, incumbent = value, float(table.curves[row, -1])
                trace.append([total, incumbent, now])
                if incumbent >= target:  # the table's best: nothing can change any more
                    break
            start(now)
        elif not method.report(key, epoch, value):
            start(now)
        else:
            heapq.heappush(heap, (now + table.dt[row, epoch], seq, key, row, epoch + 1, n))
            seq += 1
    return {"trace": trace, "total_epochs": total, "trials": n_trials}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("method")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-epochs", type=int, default=3000)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    table = Table(DATA)
    np.random.seed(a.seed)
    t0 = time.time()
    method = make(a.method, table, a.seed, a.workers)
    target = float(np.nanmax(table.curves[:, -1]))
    res = simulate(method, table, a.workers, a.max_epochs, target)
    res["wall_s"] = time.time() - t0
    Path(a.out).write_text(json.dumps(res))
    print(
        f"{a.method} seed={a.seed} workers={a.workers}: {res['total_epochs']} epochs, "
        f"{res['trials']} trials, {res['wall_s']:.0f}s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
