"""Eight workers asking at the same moment: are their suggestions distinct?

For each problem: an experiment on a fresh SQLite file gets 10 finished trials of its
objective (past the GP's initial design), then 8 processes, each with its own
``Experiment.load``, wait on a barrier and call ``ask()`` together. Reported: how many
distinct configurations they got, the smallest distance between two of them in the
GP's features (the unit encoding; the optimizer's ``min_distance`` is the bar), and
the slowest ask. Writes bench/results/blackbox/parallel.json (score.py puts it in
bench/results/blackbox.md).

    python bench/blackbox/parallel.py [--problems mixed hartmann6 ...] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
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
    _ = exp.optimizer  # built before the barrier: the asks start together
    barrier.wait(timeout=300)
    t = time.perf_counter()
    trial = exp.ask()
    out.put((None if trial is None else dict(trial.params), time.perf_counter() - t))


def measure(problem: str, seed: int) -> dict[str, Any]:
    from problems import PROBLEMS

    import tunehooks as th
    from tunehooks.optimizers.gp import GPOptimizer, SpaceEncoder

    prob = PROBLEMS[problem]
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
        ctx = mp.get_context("spawn")
        barrier, out = ctx.Barrier(WORKERS), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(url, barrier, out)) for _ in range(WORKERS)]
        for p in procs:
            p.start()
        got = [out.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(timeout=60)
    configs = [c for c, _ in got if c is not None]
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
        "slowest_ask_s": max(s for _, s in got),
        "median_ask_s": float(np.median([s for _, s in got])),
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
