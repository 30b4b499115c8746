"""Time one ask of each method given 25 ... 1,000 observations -> bench/results/ask_overhead.md.

The history is uniformly random configurations of Hartmann6 (6 continuous
parameters) with their values. Each timed ask starts from a fresh optimizer
told the whole history (so no state carries over between repeats); a warm-up
ask first loads every lazy import. The median of ``--repeats`` asks is
reported; after an ask slower than ``--slow-s`` the larger sizes of that
method are skipped (``--skip-s``). Every method gets the same thread count (``--threads``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from methods import METHODS, OBJECTIVE, PeerMethod, history_record, peer_status
from problems import PROBLEMS
from run import CACHE

from tunehooks.optimizers import make_optimizer

ROOT = Path(__file__).resolve().parents[2]
SIZES = (25, 100, 250, 500, 1000)
PROBLEM = "hartmann6"


def history(n: int, problem: str = PROBLEM) -> list[dict[str, Any]]:
    prob = PROBLEMS[problem]
    cfgs = prob.space.sample(n, rng=np.random.default_rng(n))
    return [{"params": c, "value": prob.evaluate(c)} for c in cfgs]


def time_tunehooks(
    method: str, hist: list[dict[str, Any]], repeats: int, slow_s: float
) -> list[float]:
    space = PROBLEMS[PROBLEM].space
    records = [history_record(i, h["params"], h["value"]) for i, h in enumerate(hist)]
    # the model's ask, never one of bayes' random ones
    opts = {"random_fraction": 0.0} if method == "bayes" else {}
    warm = make_optimizer(method, space, [OBJECTIVE], seed=100, options=opts)
    warm.suggest(records[:12])
    times = []
    for r in range(repeats):
        opt = make_optimizer(method, space, [OBJECTIVE], seed=r, options=opts)  # fresh each time
        t = time.perf_counter()
        opt.suggest(records)
        times.append(time.perf_counter() - t)
        if times[-1] > slow_s:
            break
    return times


def time_peer(
    method: str, hist: list[dict[str, Any]], repeats: int, slow_s: float, problem: str = PROBLEM
) -> list[float]:
    space = PROBLEMS[problem].space
    peer = PeerMethod(
        method, space, 0, mode="overhead", history=hist, repeats=repeats, slow_s=slow_s
    )
    try:
        return [float(t) for t in peer.result()["ask_s"]]
    finally:
        peer.close()


def measure(
    methods: list[str], sizes: tuple[int, ...], repeats: int, slow_s: float, skip_s: float
) -> None:
    path = CACHE / "overhead.json"
    cache: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    for m in methods:
        venv = METHODS[m][1]
        if venv and peer_status(venv):
            print(f"overhead: skip {m}: {peer_status(venv)}")
            continue
        skip = False
        for n in sizes:
            key = f"{m}/{n}"
            if key in cache and not skip:
                skip = max(cache[key], default=0.0) > skip_s
                continue
            if skip:
                cache[key] = cache.get(key) or []
                continue
            hist = history(n)
            try:
                if venv:
                    times = time_peer(m, hist, repeats, slow_s)
                else:
                    times = time_tunehooks(m, hist, repeats, slow_s)
            except ImportError as e:
                print(f"overhead: skip {m}: {e}")
                break
            cache[key] = times
            if not venv:
                from methods import _tunehooks_versions

                cache[f"{m}/rev"] = _tunehooks_versions()["gp"]
            print(
                f"overhead: {m:10s} n={n:5d}: median {np.median(times):.3f} s  {times}", flush=True
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(cache, indent=1, sort_keys=True))
            skip = max(times) > skip_s


def write_markdown(sizes: tuple[int, ...], threads: int, command: str) -> str:
    cache: dict[str, Any] = json.loads((CACHE / "overhead.json").read_text())

    def med(m: str, n: int) -> float | None:
        t = cache.get(f"{m}/{n}")
        return float(np.median(t)) if t else None

    methods = [m for m in METHODS if any(med(m, n) is not None for n in sizes)]
    lines = [
        "# Ask overhead",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `{command}`. "
        f"Median seconds for one ask given n observations of {PROBLEM} (6 floats, random "
        f"configurations), each ask from a fresh optimizer; {threads} thread(s) for every "
        f"method; {platform.processor() or platform.machine()}, {os.cpu_count()} cores shared "
        f"with other work (1-minute load average {os.getloadavg()[0]:.1f} when written). "
        "— = skipped after a slower smaller size, or not run. tunehooks bayes measured at "
        f"GP commit {cache.get('bayes/rev', '?')}.",
        "",
        "| method | " + " | ".join(f"n={n}" for n in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for m in methods:
        cells = [f"{v:.3f}" if (v := med(m, n)) is not None else "—" for n in sizes]
        lines.append(f"| {METHODS[m][0]} | " + " | ".join(cells) + " |")
    if "bayes" in methods:
        lines += ["", "Ratios (> 1: tunehooks bayes is faster):", ""]
        lines += ["| ratio | " + " | ".join(f"n={n}" for n in sizes) + " |"]
        lines += ["|---|" + "---|" * len(sizes)]
        for peer in ("optuna_gp", "hebo"):
            cells = []
            for n in sizes:
                a, b = med(peer, n), med("bayes", n)
                cells.append(f"{a / b:.1f}×" if a and b else "—")
            lines.append(f"| {METHODS[peer][0]} / tunehooks bayes | " + " | ".join(cells) + " |")
        b250, b1000 = med("bayes", 250), med("bayes", 1000)
        lines += [
            "",
            "Targets (issue 3): ≤ 0.5 s at 250 and ≤ 2 s at 1,000 observations; ≥ 10× cheaper "
            "than HEBO; no slower than Optuna GPSampler at any size. Measured: "
            f"{b250 if b250 is None else round(b250, 3)} s at 250, "
            f"{b1000 if b1000 is None else round(b1000, 3)} s at 1,000.",
        ]
    return "\n".join(lines + threads_section()) + "\n"


def threads_section() -> list[str]:
    """The tables of bench/blackbox/threads.py (ask cost under a user's thread settings)."""
    path = ROOT / "bench" / "results" / "ask_threads.json"
    if not path.exists():
        return []
    data: dict[str, Any] = json.loads(path.read_text())
    if "single" in data:  # the layout before problems: Hartmann6's conditions at the top
        data = {"cores": data.get("cores"), PROBLEM: data}
    described = {
        "hartmann6": "Hartmann6 (6 floats)",
        "mixed_large": "mixed_large (3 categoricals of 3-5 choices, 2 ints, 3 log floats over "
        "6-9 decades, 2 floats: the grouped categorical kernel)",
    }
    lines = [
        "",
        "## With a user's thread settings",
        "",
        "`nice python bench/blackbox/threads.py --problem P` (each cell: median seconds of one "
        "ask given n random configurations of P, a fresh child process per condition and "
        "method; ratio to the same method single-threaded idle in brackets; for "
        "`threads=cores`, to tunehooks bayes single-threaded). "
        f"{data.get('cores', '?')} cores shared with other work; "
        '"idle" = nothing added by the benchmark (the 1-minute load average before each '
        'condition is given: the machine is never idle), "1 busy process/core" = one '
        "`while True: pass` process per core beside the measurement.",
    ]
    for prob in sorted(k for k, v in data.items() if isinstance(v, dict)):
        lines += _threads_table(prob, described.get(prob, prob), data[prob])
    lines += [
        "",
        "Targets (issue 16, item 3), with default settings: idle within 1.5× and loaded "
        "within 3× of the single-threaded idle ask.",
    ]
    return lines


def _threads_table(prob: str, description: str, data: dict[str, Any]) -> list[str]:
    def med(cond: str, m: str, n: int) -> float | None:
        t = data.get(cond, {}).get(m, {})
        v = t.get(str(n)) if isinstance(t, dict) else None
        return float(np.median(v)) if v else None

    sizes = sorted(
        {
            int(n)
            for c in data.values()
            if isinstance(c, dict)
            for r in c.values()
            if isinstance(r, dict)
            for n in r
            if n.isdigit()
        }
    )
    labels = {
        "bayes": "tunehooks bayes (limits its threads)",
        "bayes_unlimited": "tunehooks bayes, `threads=cores` (before the limit)",
        "optuna_gp": "Optuna GPSampler",
    }
    conds = {
        "single": "single-threaded, idle",
        "default": "default threads, idle",
        "loaded": "default threads, 1 busy process/core",
        "single_loaded": "single-threaded, 1 busy process/core",
    }
    lines = [
        "",
        f"### {description}",
        "",
        "Load average before each condition: "
        + ", ".join(f"{c} {data[c].get('load_before', 0):.1f}" for c in conds if c in data)
        + ". Measured "
        + ", ".join(sorted({data[c].get("measured", "?") for c in conds if c in data}))
        + (f" at GP commit {data['rev']}" if data.get("rev") else "")
        + ".",
        "",
        "| method | condition | " + " | ".join(f"n={n}" for n in sizes) + " |",
        "|---|---|" + "---|" * len(sizes),
    ]
    for m, label in labels.items():
        for c, cl in conds.items():
            if c.startswith("single") and m == "bayes_unlimited":
                continue
            cells = []
            for n in sizes:
                v = med(c, m, n)
                base = med("single", "bayes" if m == "bayes_unlimited" else m, n)
                if v is None:
                    cells.append("—")
                elif c == "single" or not base:
                    cells.append(f"{v:.3f}")
                else:
                    cells.append(f"{v:.3f} ({v / base:.1f}×)")
            if any(x != "—" for x in cells):
                lines.append(f"| {label} | {cl} | " + " | ".join(cells) + " |")
    rounds = {
        m: max(data[c].get("rounds", {}).get(m, 1) for c in conds if c in data and m in data[c])
        for m in labels
        if any(m in data.get(c, {}) for c in conds)
    }
    if any(r > 1 for r in rounds.values()):
        lines += [
            "",
            "Rounds over the conditions, interleaved (`--rounds`; a cell pools every "
            "round's asks): " + ", ".join(f"{labels[m]} {r}" for m, r in rounds.items()) + ".",
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--slow-s", type=float, default=30.0)
    ap.add_argument("--skip-s", type=float, default=240.0, help="skip larger sizes after this")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rerun", action="store_true", help="forget cached timings of --methods")
    ap.add_argument("--command", default="bash bench/blackbox/run.sh --overhead")
    ap.add_argument("--table-only", action="store_true", help="only rewrite the markdown")
    args = ap.parse_args(argv)
    sizes = tuple(args.sizes)
    out = ROOT / "bench" / "results" / "ask_overhead.md"
    if args.table_only:  # the first table as written, the thread table from its json
        head = out.read_text().split("\n## With a user's thread settings")[0].rstrip("\n")
        out.write_text(head + "\n" + "\n".join(threads_section()) + "\n")
        print(f"wrote {out}")
        return 0
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    path = CACHE / "overhead.json"
    if args.rerun and path.exists():
        cache = json.loads(path.read_text())
        cache = {k: v for k, v in cache.items() if k.split("/")[0] not in args.methods}
        path.write_text(json.dumps(cache, indent=1, sort_keys=True))
    measure(args.methods, sizes, args.repeats, args.slow_s, args.skip_s)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(write_markdown(sizes, args.threads, args.command))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
