"""Ask cost under a user's thread settings -> bench/results/ask_threads.json.

Three conditions, each method timed in a fresh child process (thread settings
are fixed at process start):

* ``single``: ``OMP_NUM_THREADS=1`` (and torch's intra-op threads 1), nothing beside it;
* ``default``: no thread variable set (torch and the BLAS start one thread per core);
* ``loaded``: as ``default``, with one CPU-bound process per core running beside it
  (at the same nice level as the measurement);
* ``single_loaded``: as ``single``, with the same busy processes: the floor for any
  single-threaded code on that machine at that time (a machine shared with other
  work is never idle, so this tells the thread cost from the CPU share).

Methods: ``bayes`` (tunehooks as shipped: it limits its own threads during an
ask), ``bayes_unlimited`` (tunehooks with ``threads=os.cpu_count()``: the
behaviour before the limit), ``optuna_gp`` (Optuna's GPSampler, in its venv).
The history is random configurations of ``--problem`` (Hartmann6, 6 floats, as in
``overhead.py``; or ``mixed_large``, 3 categoricals + ints + log floats, the
grouped categorical kernel's path), kept per problem; the median of ``--repeats`` asks is kept; the ratios compare with tunehooks bayes (or
Optuna) single-threaded (fewer after an ask slower than ``--slow-s``).
``overhead.py`` puts the table into bench/results/ask_overhead.md.

    nice python bench/blackbox/threads.py            # all conditions, then rewrite the table
    nice python bench/blackbox/threads.py --problem mixed_large
    nice python bench/blackbox/threads.py --conditions loaded --methods bayes
    nice python bench/blackbox/threads.py --methods bayes --rounds 3   # conditions interleaved
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "results" / "ask_threads.json"
SIZES = (30, 250, 1000)
PROBLEMS_TIMED = ("hartmann6", "mixed_large")
CONDITIONS = ("single", "default", "loaded", "single_loaded")
METHODS = ("bayes", "bayes_unlimited", "optuna_gp")
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def child(
    method: str, problem: str, sizes: list[int], repeats: int, slow_s: float
) -> dict[str, list[float]]:
    """Time the asks in this process (its thread settings are the condition's)."""
    from overhead import history, time_peer
    from problems import PROBLEMS

    if os.environ.get("OMP_NUM_THREADS") == "1":
        import torch

        torch.set_num_threads(1)
    out: dict[str, list[float]] = {}
    for n in sizes:
        hist = history(n, problem)
        if method == "optuna_gp":
            out[str(n)] = time_peer(method, hist, repeats, slow_s, problem)
        else:
            out[str(n)] = _time_bayes(PROBLEMS[problem].space, hist, repeats, slow_s, method)
        print(f"  {method} n={n}: {out[str(n)]}", file=sys.stderr, flush=True)
    return out


def _time_bayes(
    space: Any, hist: list[dict[str, Any]], repeats: int, slow_s: float, method: str
) -> list[float]:
    from methods import OBJECTIVE, history_record

    from tunehooks.optimizers.gp import GPOptimizer

    opts: dict[str, Any] = {"random_fraction": 0.0}  # time the model's ask, never a random one
    if method == "bayes_unlimited":
        opts["threads"] = os.cpu_count() or 1
    records = [history_record(i, h["params"], h["value"]) for i, h in enumerate(hist)]
    GPOptimizer(space, [OBJECTIVE], seed=100, **opts).suggest(records[:12])  # warm-up
    times = []
    for r in range(repeats):
        opt = GPOptimizer(space, [OBJECTIVE], seed=r, **opts)
        t = time.perf_counter()
        opt.suggest(records)
        times.append(time.perf_counter() - t)
        if times[-1] > slow_s:
            break
    return times


def run_condition(
    cond: str, problem: str, methods: list[str], sizes: list[int], repeats: int, slow_s: float
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARS}
    if cond.startswith("single"):
        env["OMP_NUM_THREADS"] = "1"
    burners: list[subprocess.Popen[bytes]] = []
    if cond.endswith("loaded"):
        burners = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 1)
        ]
    try:
        out: dict[str, Any] = {"load_before": os.getloadavg()[0]}
        for m in methods:
            if cond.startswith("single") and m == "bayes_unlimited":
                continue  # single-threaded, it is plain bayes
            print(f"threads: {problem} {cond} {m}", file=sys.stderr, flush=True)
            cmd = [sys.executable, __file__, "--child", m, "--problem", problem]
            cmd += ["--sizes", *map(str, sizes)]
            cmd += ["--repeats", str(repeats), "--slow-s", str(slow_s)]
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
            sys.stderr.write(r.stderr[-2000:])
            if r.returncode != 0:
                out[m] = {"error": r.stderr.strip().splitlines()[-1:] or ["?"]}
                continue
            out[m] = json.loads(r.stdout.strip().splitlines()[-1])
        return out
    finally:
        for b in burners:
            b.kill()
            b.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    ap.add_argument("--problem", default=PROBLEMS_TIMED[0], choices=PROBLEMS_TIMED)
    ap.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--slow-s", type=float, default=10.0)
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="pass over the conditions this many times, "
        "interleaved (the medians pool every round's asks)",
    )
    args = ap.parse_args(argv)
    if args.child:
        res = child(args.child, args.problem, args.sizes, args.repeats, args.slow_s)
        print(json.dumps(res))
        return 0
    data: dict[str, Any] = json.loads(OUT.read_text()) if OUT.exists() else {}
    if "single" in data:  # the layout before problems: Hartmann6's conditions at the top
        data = {"cores": data.pop("cores", None), "hartmann6": data}
    from methods import _tunehooks_versions

    rev = _tunehooks_versions()["gp"]
    for rnd in range(args.rounds):  # rounds interleave the conditions: load drifts
        for cond in args.conditions:
            res = run_condition(
                cond, args.problem, args.methods, args.sizes, args.repeats, args.slow_s
            )
            entry = data.setdefault(args.problem, {}).setdefault(cond, {})
            if rnd == 0:
                entry.update(res)
                entry["loads"] = [res["load_before"]]
                entry["rounds"] = {m: 1 for m in res if m in METHODS}
            else:
                for m, times in res.items():
                    if m in METHODS and "error" not in times:
                        for n, t in times.items():
                            entry[m].setdefault(n, []).extend(t)
                        entry["rounds"][m] = rnd + 1
                entry["loads"].append(res["load_before"])
                entry["load_before"] = sum(entry["loads"]) / len(entry["loads"])
            entry["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            data[args.problem]["rev"] = rev
            data["cores"] = os.cpu_count()
            OUT.parent.mkdir(parents=True, exist_ok=True)
            OUT.write_text(json.dumps(data, indent=1, sort_keys=True))
    print(f"wrote {OUT}; `python bench/blackbox/overhead.py --table-only` rewrites the table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
