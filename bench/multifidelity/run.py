"""Multi-fidelity benchmark: tunehooks against peers on the recorded digits-MLP curves.

Every method runs on the same simulated clock (bench/data/digits-mlp: 810
configurations x 30 epochs of real training), 1 and 4 asynchronous workers,
several seeds. tunehooks' methods drive a real Experiment (in-memory SQLite,
the real scheduler and optimizer) through tunehooks.simulate; peers run in
their own virtual environments (bench/.venvs/mf-<peer>, see setup_peers.sh)
through peers.py. Each run is cached under bench/.cache/multifidelity, so an
interrupted benchmark resumes; the table is written to
bench/results/multifidelity.md.

Usage: python bench/multifidelity/run.py [--seeds 10] [--jobs 2] [--methods a,b] [--score-only]
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

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = ROOT / "bench" / ".cache" / "multifidelity"
RESULTS = ROOT / "bench" / "results" / "multifidelity.md"
DATA = ROOT / "bench" / "data" / "digits-mlp"
MAX_EPOCHS = 3000
CHECKPOINTS = (100, 300, 1000, 3000)

# name -> (label, venv or None for tunehooks)
METHODS: dict[str, tuple[str, str | None]] = {
    "tunehooks": ("tunehooks (MF-GP + model-guided ASHA)", None),
    "random": ("random search, full fidelity", None),
    "random-asha": ("random + ASHA", None),
    "hyperband": ("random + Hyperband", None),
    "dehb": ("DEHB 0.1.2", "mf-dehb"),
    "optuna-tpe-hyperband": ("Optuna TPE + HyperbandPruner", "mf-optuna"),
    "synetune-mobster": ("Syne Tune 0.13 MOBSTER", "mf-synetune"),
    "synetune-hypertune": ("Syne Tune 0.13 Hyper-Tune", "mf-synetune"),
}


SLOW = {"synetune-mobster", "synetune-hypertune"}  # run after the others


def run_tunehooks(method: str, seed: int, workers: int, max_epochs: int, out: Path) -> None:
    """One tunehooks run in this process (called through --worker)."""
    import torch

    torch.set_num_threads(1)
    import tunehooks as th
    from tunehooks.simulate import LearningCurves, simulate

    lc = LearningCurves.load(DATA)
    sched = {"tunehooks": "asha", "random": "none", "random-asha": "asha", "hyperband": "hyperband"}
    fid = th.Fidelity(min=1, max=30, eta=3, scheduler=sched[method])
    exp = th.Experiment.create(
        f"{method}-{seed}-{workers}",
        lc.space(),
        metrics=[lc.objective()],
        budget=th.Budget(cost=max_epochs),
        storage="sqlite://",
        method="bayes" if method == "tunehooks" else "random",
        seed=seed,
        fidelity=fid,
    )
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
    out.write_text(json.dumps(data))


def _job(method: str, seed: int, workers: int, max_epochs: int) -> str:
    out = CACHE / method / f"e{max_epochs}-w{workers}-s{seed}.json"
    if out.exists():
        return f"cached {out.name}"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    venv = METHODS[method][1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    if venv is None:
        cmd = [sys.executable, str(HERE / "run.py"), "--worker", method, str(seed), str(workers)]
        cmd += [str(max_epochs), str(tmp)]
    else:
        py = ROOT / "bench" / ".venvs" / venv / "bin" / "python"
        if not (py.parent.parent / ".ok").exists():
            return f"skipped {method}: bench/.venvs/{venv} is not installed"
        cmd = [str(py), str(HERE / "peers.py"), method, "--seed", str(seed)]
        cmd += ["--workers", str(workers), "--max-epochs", str(max_epochs), "--out", str(tmp)]
    t0 = time.time()
    proc = subprocess.run(["nice", *cmd], env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not tmp.exists():
        return f"FAILED {method} s{seed} w{workers}: {proc.stderr.strip().splitlines()[-1:]}"
    tmp.rename(out)
    return f"done {method} s{seed} w{workers} in {time.time() - t0:.0f}s"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--workers", default="1,4")
    ap.add_argument("--max-epochs", type=int, default=MAX_EPOCHS)
    ap.add_argument("--score-only", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS, help="the results file to write")
    ap.add_argument("--worker", nargs=5, metavar=("METHOD", "SEED", "WORKERS", "EPOCHS", "OUT"))
    a = ap.parse_args()
    if a.worker:
        m, s, w, e, out = a.worker
        run_tunehooks(m, int(s), int(w), int(e), Path(out))
        return
    methods = [m for m in a.methods.split(",") if m]
    workers = [int(w) for w in a.workers.split(",")]
    if not a.score_only:
        jobs = [(m, s, w, a.max_epochs) for s in range(a.seeds) for w in workers for m in methods]
        jobs.sort(key=lambda j: (j[0] in SLOW, j[1]))
        with ThreadPoolExecutor(a.jobs) as pool:
            for msg in pool.map(lambda j: _job(*j), jobs):
                print(msg, flush=True)
    from score import write_results  # type: ignore[import-not-found]

    write_results(CACHE, a.out, METHODS, workers, DATA, a.max_epochs)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
