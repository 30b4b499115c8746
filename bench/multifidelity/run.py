"""Multi-fidelity benchmark: tunehooks against peers on every recorded learning-curve table.

Every method runs on the same simulated clock (a table of bench/data: every
configuration of a grid x 30 epochs of real training, see record.py), 1 and 4
asynchronous workers, several seeds. tunehooks' methods (variants.py) drive a
real Experiment (the in-memory backend memory://, the real scheduler and optimizer) through
tunehooks.simulate; peers run in their own virtual environments
(bench/.venvs/mf-<peer>, see setup_peers.sh) through peers.py. Each run is
cached under bench/.cache/multifidelity/<table>/<method>/e<cap>-w<workers>-s<seed>.json,
so an interrupted benchmark resumes; results go to
bench/results/multifidelity/<table>.md and the summary bench/results/multifidelity.md.

Usage:
    python bench/multifidelity/run.py --table all [--seeds 10] [--workers 1,4]
        [--methods a,b] [--max-epochs 1000] [--jobs 2] [--score-only] [--no-write]
    python bench/multifidelity/run.py --list
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.append(str(HERE))  # after the standard library: a bench module never shadows it

import variants  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "multifidelity"
RESULTS = ROOT / "bench" / "results" / "multifidelity"
SUMMARY = ROOT / "bench" / "results" / "multifidelity.md"
DATA = ROOT / "bench" / "data"
MAX_EPOCHS = 1000

# peers: name -> (label, venv); each runs in bench/.venvs/<venv> through peers.py
PEERS: dict[str, tuple[str, str]] = {
    "random-search": ("random search, full fidelity (numpy, peers.py)", "mf-optuna"),
    "optuna-tpe-hyperband": ("Optuna TPE + HyperbandPruner", "mf-optuna"),
    "optuna-random-sha": ("Optuna random + SuccessiveHalvingPruner", "mf-optuna"),
    "dehb": ("DEHB 0.1.2", "mf-dehb"),
    "smac-hyperband": ("SMAC3 Hyperband (multi-fidelity facade)", "mf-smac"),
    "synetune-asha-stop": ("Syne Tune ASHA, stopping type", "mf-synetune"),
    "synetune-asha-promo": ("Syne Tune ASHA, promotion type", "mf-synetune"),
    "synetune-hyperband": ("Syne Tune synchronous Hyperband", "mf-synetune"),
    "synetune-bohb": ("Syne Tune synchronous BOHB", "mf-synetune"),
    "synetune-bohb-async": ("Syne Tune BOHB (asynchronous, promotion type)", "mf-synetune"),
}
# not run, with the reason (listed in the results, never silently dropped)
_SLOW = "a GP refit per decision (minutes per run): too slow for 7 tables x 20 runs on 2 cores"
SKIPPED: dict[str, tuple[str, str]] = {
    "synetune-mobster": ("Syne Tune MOBSTER", _SLOW),
    "synetune-hypertune": ("Syne Tune Hyper-Tune", _SLOW),
    "synetune-dyhpo": ("Syne Tune DyHPO", _SLOW),
}


def methods(*, reported: bool = False) -> dict[str, str]:
    """Every method's label: tunehooks' variants first, then the peers (``reported``: only
    the variants the results report, variants.REPORTED)."""
    names = [m for m in variants.VARIANTS if not reported or m in variants.REPORTED]
    out = {m: variants.label(m) for m in names}
    out.update({m: lab for m, (lab, _v) in PEERS.items()})
    return out


def tables(spec: str) -> list[str]:
    """Table names (paths under bench/data without suffix): 'all' is every non-held-out table."""
    if spec != "all":
        names = [t for t in spec.split(",") if t]
        for t in names:
            if not (DATA / f"{t}.npz").exists():
                sys.exit(f"--table: no table bench/data/{t}.npz (see --list)")
        return names
    return sorted(p.stem for p in DATA.glob("*.npz"))


def run_tunehooks(table: str, method: str, seeds: list[int], workers: int, max_epochs: int) -> None:
    """tunehooks runs in this process (called through --worker), one cache file per seed."""
    import torch

    torch.set_num_threads(1)
    from tunehooks.simulate import LearningCurves, simulate

    lc = LearningCurves.load(DATA / table)
    for seed in seeds:
        out = cache_file(table, method, seed, workers, max_epochs)
        exp = variants.VARIANTS[method](lc, seed, workers, max_epochs)
        t0 = time.time()
        res = simulate(exp, lc, workers=workers, max_epochs=max_epochs, target=lc.best_final())
        trace, last = [], None
        for e in res.events:
            if e.incumbent is not None and e.incumbent != last:
                trace.append([e.total_epochs, e.incumbent, e.time])
                last = e.incumbent
        data = {
            "trace": trace,
            "total_epochs": res.total_epochs,
            "trials": len(res.trials),
            "wall_s": time.time() - t0,
            "max_epochs": max_epochs,
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.rename(out)


def cache_file(table: str, method: str, seed: int, workers: int, max_epochs: int) -> Path:
    return CACHE / table / method / f"e{max_epochs}-w{workers}-s{seed}.json"


def _job(table: str, method: str, seeds: list[int], workers: int, max_epochs: int) -> str:
    """Runs the seeds of (table, method, workers) not cached yet; one process for tunehooks'."""
    todo = [s for s in seeds if not cache_file(table, method, s, workers, max_epochs).exists()]
    if not todo:
        return f"cached {table}/{method} w{workers} s{seeds[0]}-{seeds[-1]}"
    folder = cache_file(table, method, 0, workers, max_epochs).parent
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    t0 = time.time()
    if method in variants.VARIANTS:
        cmds = [[sys.executable, "-P", str(HERE / "run.py"), "--worker", table, method]]
        cmds[0] += [",".join(map(str, todo)), str(workers), str(max_epochs)]
    else:
        venv = PEERS[method][1]
        py = ROOT / "bench" / ".venvs" / venv / "bin" / "python"
        if not (py.parent.parent / ".ok").exists():
            return f"skipped {method}: bench/.venvs/{venv} is not installed"
        out = str(folder / f"e{max_epochs}-w{workers}-s{{seed}}.json")
        cmd = [str(py), "-P", str(HERE / "peers.py"), method, "--table", str(DATA / table)]
        cmd += ["--seeds", ",".join(map(str, todo)), "--workers", str(workers)]
        cmds = [[*cmd, "--max-epochs", str(max_epochs), "--out", out]]
    for cmd in cmds:
        proc = subprocess.run(["nice", *cmd], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            (folder / f"FAILED-w{workers}.txt").write_text(proc.stderr[-4000:])
            return f"FAILED {table}/{method} w{workers}: {err}"
    took = time.time() - t0
    return f"done {table}/{method} w{workers} seeds {todo} in {took:.0f}s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default="all", help="a table, a comma list, or 'all'")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--methods", default=",".join(methods()))
    ap.add_argument("--workers", default="1,4")
    ap.add_argument("--max-epochs", type=int, default=MAX_EPOCHS)
    ap.add_argument("--score-only", action="store_true")
    ap.add_argument("--list", action="store_true", help="list tables and methods")
    ap.add_argument("--chunk", type=int, default=5, help="seeds per job")
    ap.add_argument(
        "--no-write",
        action="store_true",
        help="run into the cache only; leave bench/results as committed",
    )
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        t, m, s, w, e = a.worker
        run_tunehooks(t, m, [int(x) for x in s.split(",")], int(w), int(e))
        return
    if a.list:
        print("tables:", ", ".join(tables("all")), "(held out: run by name)")
        for m, lab in methods().items():
            print(f"  {m:24s} {lab}")
        return
    names = tables(a.table)
    known = methods()
    ms = [m for m in a.methods.split(",") if m]
    for m in ms:
        if m not in known:
            sys.exit(f"--methods: unknown {m!r}; known: {', '.join(known)}")
    workers = [int(w) for w in a.workers.split(",")]
    from score import restore_cache

    for t in names:  # a fresh clone: the committed traces stand in for the gitignored cache
        restore_cache(t, a.max_epochs)
    if not a.score_only:
        seeds = list(range(a.first_seed, a.first_seed + a.seeds))
        chunks = [seeds[i : i + a.chunk] for i in range(0, len(seeds), a.chunk)]
        jobs = [
            (t, m, c, w, a.max_epochs) for w in workers for c in chunks for t in names for m in ms
        ]
        with ThreadPoolExecutor(a.jobs) as pool:
            for msg in pool.map(lambda j: _job(*j), jobs):
                print(msg, flush=True)
    if a.no_write:
        return
    from score import write_all

    write_all(
        tables("all") if a.table == "all" else names,
        methods(reported=True),
        SKIPPED,
        sorted({1, 4, *workers}),
        a.max_epochs,
    )
    print(f"wrote {RESULTS}/<table>.md and {SUMMARY}")


if __name__ == "__main__":
    main()
