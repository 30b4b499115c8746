"""Run the black-box benchmark: every (method, problem, seed), resumable, then score.

Usage (from the repository root; ``bash bench/blackbox/run.sh`` wraps it)::

    python bench/blackbox/run.py                      # everything: 60 evals, 8 seeds
    python bench/blackbox/run.py --quick              # 2 seeds, 20 evals, 3 problems
    python bench/blackbox/run.py --methods bayes --rerun   # rerun tunehooks' GP only

Each finished run is one JSON file under ``bench/results/blackbox/raw/<method>/<problem>/``;
runs already there are skipped, so an interrupted benchmark continues where it stopped.
Runs are ordered seed by seed, so a partial benchmark has balanced seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from methods import METHODS, MethodUnavailable, open_method, valid_run
from problems import PROBLEMS

# Finished runs, reference values and timings are committed (a few KB each), so a later
# session continues the benchmark instead of redoing it; smoke runs stay in the cache.
CACHE = Path(__file__).resolve().parents[1] / "results" / "blackbox"
RAW = CACHE / "raw"
QUICK_PROBLEMS = ["branin", "mixed", "svc_breast_cancer"]
# HEBO (~15-40 s per ask) and SMAC3 (~10-20 s per ask) are slow on two shared cores:
# they get fewer seeds by default and one lane of their own, so they never hold both
# parallel slots while faster runs wait.
SEED_CAP = {"hebo": 2, "smac": 4, "ax": 2}
SLOW = {"hebo", "smac", "ax"}


QUICK_RAW = Path(__file__).resolve().parents[1] / ".cache" / "blackbox" / "raw"


def raw_path(method: str, problem: str, seed: int, evals: int, raw: Path = RAW) -> Path:
    return raw / method / problem / f"seed{seed}_n{evals}.json"


def is_done(method: str, problem: str, seed: int, evals: int, raw: Path = RAW) -> bool:
    path = raw_path(method, problem, seed, evals, raw)
    return path.exists() and valid_run(json.loads(path.read_text()))


def run_one(method: str, problem: str, seed: int, evals: int, raw: Path = RAW) -> dict[str, Any]:
    """One optimization run; writes and returns its raw record."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    prob = PROBLEMS[problem]
    out: dict[str, Any] = {"method": method, "problem": problem, "seed": seed, "evals": evals}
    t0 = time.perf_counter()
    try:
        m = open_method(method, prob.space, seed, evals=evals)
    except MethodUnavailable as e:
        out["unavailable"] = str(e)
        return out
    values: list[float] = []
    asks: list[float] = []
    try:
        for _ in range(evals):
            cfg, dt = m.ask()
            y = prob.evaluate(cfg)
            m.tell(y)
            values.append(y)
            asks.append(dt)
    except Exception:
        out["error"] = traceback.format_exc(limit=5)
    finally:
        m.close()
    out.update(
        values=values,
        ask_s=[round(a, 4) for a in asks],
        versions=m.versions,
        wall_s=round(time.perf_counter() - t0, 1),
    )
    if "error" not in out:
        path = raw_path(method, problem, seed, evals, raw)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(out))
        tmp.replace(path)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--problems", nargs="+", default=None, choices=list(PROBLEMS))
    ap.add_argument("--seeds", type=int, default=8, help="seeds 0..N-1 (default 8)")
    ap.add_argument("--evals", type=int, default=60, help="evaluations per run (default 60)")
    ap.add_argument("--jobs", type=int, default=2, help="parallel runs (default 2)")
    ap.add_argument("--quick", action="store_true", help="2 seeds, 20 evals, 3 problems")
    ap.add_argument("--raw", type=Path, default=None, help="where runs are cached")
    ap.add_argument(
        "--reverse", action="store_true", help="last seed first (a second process meets the first)"
    )
    ap.add_argument("--rerun", action="store_true", help="ignore cached runs of --methods")
    ap.add_argument("--hebo-seeds", type=int, default=SEED_CAP["hebo"])
    ap.add_argument("--smac-seeds", type=int, default=SEED_CAP["smac"])
    ap.add_argument("--ax-seeds", type=int, default=SEED_CAP["ax"])
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.evals = min(args.seeds, 2), min(args.evals, 20)
        args.problems = args.problems or QUICK_PROBLEMS
    raw = args.raw or (QUICK_RAW if args.quick else RAW)
    problems = args.problems or list(PROBLEMS)
    cap = {"hebo": args.hebo_seeds, "smac": args.smac_seeds, "ax": args.ax_seeds}
    tasks = [
        (m, p, s)
        for s in range(args.seeds)
        for p in problems
        for m in args.methods
        if s < cap.get(m, args.seeds) and (args.rerun or not is_done(m, p, s, args.evals, raw))
    ]
    if args.reverse:
        tasks.sort(key=lambda t: -t[2])
    print(f"blackbox: {len(tasks)} runs to do ({args.evals} evals each, {args.jobs} at a time)")
    fast = [t for t in tasks if t[0] not in SLOW]
    slow = sorted((t for t in tasks if t[0] in SLOW), key=lambda t: t[2])
    unavailable: set[str] = set()
    done = 0
    # a fresh process per run: each run imports the code as committed when it starts
    with ProcessPoolExecutor(max_workers=args.jobs, max_tasks_per_child=1) as pool:
        running: dict[Any, tuple[str, str, int]] = {}

        def submit(queue: list[tuple[str, str, int]]) -> bool:
            while queue:
                m, p, s = queue.pop(0)
                # another process may have finished it meanwhile
                if m not in unavailable and (args.rerun or not is_done(m, p, s, args.evals, raw)):
                    running[pool.submit(run_one, m, p, s, args.evals, raw)] = (m, p, s)
                    return True
            return False

        while fast or slow or running:
            while len(running) < args.jobs:
                n_slow = sum(1 for t in running.values() if t[0] in SLOW)
                # the slow lane takes at most one slot while fast runs remain
                if slow and (n_slow == 0 or not fast) and submit(slow):
                    continue
                if not submit(fast) and not (slow and submit(slow)):
                    break
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                m, p, s = running.pop(fut)
                res = fut.result()
                done += 1
                if "unavailable" in res:
                    unavailable.add(m)
                    print(f"  skip {m}: {res['unavailable']}", flush=True)
                elif "error" in res:
                    print(f"  FAILED {m} {p} seed {s}:\n{res['error']}", flush=True)
                else:
                    print(
                        f"  [{done}/{len(tasks)}] {m:10s} {p:20s} seed {s}: best "
                        f"{min(res['values']):.5g}  ({res['wall_s']:.1f} s)",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
