"""Eight workers asking at the same moment: are their suggestions distinct, and what does it cost?

For each problem: an experiment on a fresh SQLite file gets 10 finished trials of its
objective (past the GP's initial design), then 8 processes, each with its own
``Experiment.load``, warm up (one GP suggestion on the same history, not started: a
fresh process loads torch's, gpytorch's and scipy's lazy modules on its first ask),
wait on a barrier and call ``ask()`` together. Reported: how many distinct
configurations they got, the smallest distance between two of them in the GP's
features (the unit encoding; the optimizer's ``min_distance`` is the bar), the median
and slowest ask, the proposals (GP fits) each ask made, the warm-up (the first ask of
8 fresh processes at once), and the reference: one single-threaded ask in a warm
process times 8 / cores (8 asks sharing the cores with nothing serialized). Writes
bench/results/blackbox/parallel.json (score.py puts it in bench/results/blackbox.md).

    python bench/blackbox/parallel.py [--problems mixed hartmann6 ...] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

OUT = Path(__file__).resolve().parents[1] / "results" / "blackbox" / "parallel.json"
WORKERS = 8
DEFAULT_PROBLEMS = ["hartmann6", "mixed", "optim_choice", "cat_heavy"]


def _worker(url: str, barrier: Any, out: Any) -> None:
    import tunehooks as th

    exp = th.Experiment.load("par", storage=url)
    t = time.perf_counter()
    _fresh_gp(exp, 100).suggest(exp.storage.get_trials(exp.id))  # warm-up: lazy imports
    warm = time.perf_counter() - t
    proposals: list[float] = []
    propose = exp._propose

    def counted(history: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return propose(history)
        finally:
            proposals.append(time.perf_counter() - t0)

    exp._propose = counted  # type: ignore[method-assign]
    barrier.wait(timeout=300)
    t = time.perf_counter()
    trial = exp.ask()
    dt = time.perf_counter() - t
    out.put((None if trial is None else dict(trial.params), dt, warm, proposals))


def _fresh_gp(exp: Any, seed: int) -> Any:
    """A GP optimizer like the experiment's whose every ask is a model-based one."""
    from tunehooks.optimizers.gp import GPOptimizer

    opt = exp.optimizer
    return GPOptimizer(opt.space, opt.metrics, seed=seed, random_fraction=0.0)


def _single_ask(exp: Any, repeats: int = 3) -> float:
    """Median seconds of one ask's GP suggestion in this (warm) process, fresh optimizers."""
    history = exp.storage.get_trials(exp.id)
    _fresh_gp(exp, 100).suggest(history)
    times = []
    for r in range(repeats):
        fresh = _fresh_gp(exp, r)
        t = time.perf_counter()
        fresh.suggest(history)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def measure(problem: str, seed: int) -> dict[str, Any]:
    from problems import PROBLEMS

    import tunehooks as th
    from tunehooks.optimizers.gp import GPOptimizer, SpaceEncoder

    prob = PROBLEMS[problem]
    load = os.getloadavg()[0]
    metrics = [th.Metric("objective", goal="minimize")]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/par.db"
        exp = th.Experiment.create(
            "par",
            prob.space,
            metrics=metrics,
            budget=th.Budget(trials=40),
            storage=url,
            method="bayes",
            seed=seed,
        )
        for _ in range(10):
            t = exp.ask()
            if t is None:
                raise RuntimeError("no trial")
            t.complete({"objective": prob.evaluate(t.params)})
        single = _single_ask(exp)
        ctx = mp.get_context("spawn")
        barrier, out = ctx.Barrier(WORKERS), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(url, barrier, out)) for _ in range(WORKERS)]
        for p in procs:
            p.start()
        got = [out.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(timeout=60)
    configs = [c for c, *_ in got if c is not None]
    enc = SpaceEncoder(prob.space)
    X = enc.canonicalize(enc.encode(configs))
    d = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))[np.triu_indices(len(X), 1)]
    return {
        "problem": problem,
        "seed": seed,
        "workers": WORKERS,
        "suggestions": len(configs),
        "distinct": len({json.dumps(c, sort_keys=True) for c in configs}),
        "min_distance": float(d.min()) if len(d) else None,
        "bar": GPOptimizer(prob.space, metrics).min_distance,
        "slowest_ask_s": max(g[1] for g in got),
        "median_ask_s": float(np.median([g[1] for g in got])),
        "median_warmup_s": float(np.median([g[2] for g in got])),
        "proposals": sorted(len(g[3]) for g in got),
        "proposal_s": sorted([round(x, 3) for x in g[3]] for g in got),
        "single_ask_s": single,
        "reference_s": single * WORKERS / (os.cpu_count() or 1),
        "load_before": load,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--problems", nargs="+", default=DEFAULT_PROBLEMS)
    ap.add_argument("--repeats", type=int, default=2, help="seeds per problem")
    args = ap.parse_args(argv)
    rows = []
    for p in args.problems:
        for seed in range(args.repeats):
            r = measure(p, seed)
            rows.append(r)
            print(json.dumps(r), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {"measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": rows},
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
