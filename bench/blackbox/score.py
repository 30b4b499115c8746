"""Score the cached runs as in bayesmark and write bench/results/blackbox.md.

score = 100 * (1 - (best - f*) / (f_ref - f*)) for one run, where ``best`` is the
best value among the run's evaluations, ``f*`` the known optimum (synthetic
problems) or the best value any method or the reference sample found (tuning
problems), and ``f_ref`` the median value of uniformly random configurations
(256 samples, cached). 100 is the optimum, 0 is "as good as one random
configuration"; a method scores about 100 * (1 - q) when its best lies at the
q-quantile between f* and the median. Scores are averaged over seeds, then over
problems.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from methods import METHODS, PEER_VENV, peer_status, valid_run
from problems import PROBLEMS
from run import CACHE, RAW, SLOW
from suite import HELD_OUT

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
FREF_SAMPLES = 256
FREF_SEED = 20261124


def reference(problem: str) -> dict[str, float]:
    """Median and minimum of random configurations (cached in bench/results/blackbox/fref.json)."""
    path = CACHE / "fref.json"
    cache: dict[str, dict[str, float]] = json.loads(path.read_text()) if path.exists() else {}
    key = f"{problem}/{FREF_SAMPLES}/{FREF_SEED}"
    if key not in cache:
        prob = PROBLEMS[problem]
        cfgs = prob.space.sample(FREF_SAMPLES, rng=np.random.default_rng(FREF_SEED))
        vals = np.array([prob.evaluate(c) for c in cfgs])
        cache[key] = {"median": float(np.median(vals)), "min": float(vals.min())}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cache, indent=1, sort_keys=True))
    return cache[key]


def load_runs(evals: int, raw: Path = RAW) -> dict[tuple[str, str], list[dict[str, Any]]]:
    runs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for f in sorted(raw.glob(f"*/*/seed*_n{evals}.json")):
        r = json.loads(f.read_text())
        ok = r["method"] in METHODS and r["problem"] in PROBLEMS and valid_run(r)
        if ok and len(r["values"]) == evals:
            runs[(r["method"], r["problem"])].append(r)
    return runs


def common_seeds(runs: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    """Keep, per problem, the seeds every method with full seeds has (slow peers: fewer).

    A benchmark stopped early has more seeds of the cheap methods than of the GPs;
    comparing means over different seeds would favour nobody in particular but adds
    noise, so every method is scored on the same seeds of a problem.
    """
    for p in PROBLEMS:
        core = [m for m in METHODS if m not in SLOW and runs.get((m, p))]
        if not core:
            continue
        shared = set.intersection(*({r["seed"] for r in runs[(m, p)]} for m in core))
        for m in METHODS:
            if (m, p) in runs:
                runs[(m, p)] = [r for r in runs[(m, p)] if r["seed"] in shared]


def scores(evals: int, raw: Path = RAW) -> dict[str, Any]:
    runs = load_runs(evals, raw)
    common_seeds(runs)
    problems = [p for p in PROBLEMS if any(runs.get((m, p)) for m in METHODS)]
    out: dict[str, Any] = {"problems": {}, "methods": {}, "evals": evals}
    for p in problems:
        ref = reference(p)
        seen = [min(r["values"]) for m in METHODS for r in runs.get((m, p), [])]
        known = PROBLEMS[p].optimum
        fstar = min([ref["min"], *seen]) if known is None else min([known, *seen])
        fref = ref["median"]
        entry: dict[str, Any] = {"f_star": fstar, "f_ref": fref, "known": known is not None}
        for m in METHODS:
            rs = runs.get((m, p), [])
            if not rs:
                continue
            sc = [100 * (1 - (min(r["values"]) - fstar) / (fref - fstar)) for r in rs]
            entry[m] = {
                "scores": sc,
                "mean": float(np.mean(sc)),
                "se": float(np.std(sc, ddof=1) / math.sqrt(len(sc))) if len(sc) > 1 else 0.0,
                "seeds": [r["seed"] for r in rs],
                "best": [min(r["values"]) for r in rs],
                "ask_median_s": float(np.median([np.median(r["ask_s"]) for r in rs])),
            }
        out["problems"][p] = entry
    for m in METHODS:
        per = [out["problems"][p][m]["mean"] for p in problems if m in out["problems"][p]]
        vers = next((r["versions"] for (mm, _), rs in runs.items() if mm == m for r in rs), {})
        gp = sorted(
            {r["versions"].get("gp", "") for (mm, _), rs in runs.items() if mm == m for r in rs}
        )
        if m == "bayes" and gp:
            vers = {**vers, "gp": " and ".join(gp)}
        out["methods"][m] = {
            "mean": float(np.mean(per)) if per else None,
            "problems": len(per),
            "versions": vers,
        }
    return out


def mean_se(means: list[float], ses: list[float | None]) -> tuple[float, float | None]:
    """Mean over problems and its standard error, from each problem's standard error.

    Seeds of different problems are independent runs, so the variance of the mean of
    P problem means is the sum of their variances over P². A problem with one seed
    has no standard error (``None``), and then neither has the mean.

    Example:
        >>> mean_se([90.0, 80.0], [3.0, 4.0])
        (85.0, 2.5)
        >>> mean_se([90.0, 80.0], [3.0, None])
        (85.0, None)
    """
    m = float(np.mean(means))
    if not ses or any(s is None for s in ses):
        return m, None
    return m, math.sqrt(sum(float(s) ** 2 for s in ses if s is not None)) / len(ses)


MIN_GAP = 0.1
"""Score gaps below this count as ties (the tables show one decimal)."""


def _seed_se(values: list[float]) -> float | None:
    """Standard error over seeds; ``None`` for a single seed."""
    return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None


def peer_comparison(res: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per method: seed counts, suite mean ± SE, and tunehooks bayes minus it.

    ``diff``: bayes' mean (all its seeds) minus the method's, over the problems both ran;
    ``paired``: the same on exactly the method's seeds (per problem the mean of
    bayes − method over the seeds both have); each with its standard error (``None``
    where a problem has one seed). ``beats``: problems where the method's mean is above
    bayes' by more than the standard error of the difference (hypot of the two
    standard errors; a one-seed method counts as 0 there: see ``one_seed``).
    """
    out: dict[str, dict[str, Any]] = {}
    probs = res["problems"]
    for m in METHODS:
        shared = [p for p, e in probs.items() if m in e and "bayes" in e]
        if not shared:
            continue
        counts = [len(probs[p][m]["scores"]) for p in shared]
        mean, se = mean_se(
            [probs[p][m]["mean"] for p in shared],
            [_seed_se(probs[p][m]["scores"]) for p in shared],
        )
        row: dict[str, Any] = {"problems": len(shared), "seeds": (min(counts), max(counts))}
        row["mean"], row["se"] = mean, se
        if m != "bayes":
            b = [probs[p]["bayes"] for p in shared]
            row["diff"] = mean_se(
                [bb["mean"] - probs[p][m]["mean"] for bb, p in zip(b, shared, strict=True)],
                [
                    None if s1 is None or s2 is None else math.hypot(s1, s2)
                    for s1, s2 in (
                        (_seed_se(bb["scores"]), _seed_se(probs[p][m]["scores"]))
                        for bb, p in zip(b, shared, strict=True)
                    )
                ],
            )
            means, ses = [], []
            for bb, p in zip(b, shared, strict=True):
                by_seed = dict(zip(bb["seeds"], bb["scores"], strict=True))
                d = [
                    by_seed[s] - v
                    for s, v in zip(probs[p][m]["seeds"], probs[p][m]["scores"], strict=True)
                    if s in by_seed
                ]
                if d:
                    means.append(float(np.mean(d)))
                    ses.append(_seed_se(d))
            row["paired"] = mean_se(means, ses) if means else None
            beats = []
            for bb, p in zip(b, shared, strict=True):
                e = probs[p][m]
                gap = e["mean"] - bb["mean"]
                # 0.1: the tables' precision (a one-seed peer's 100.0 vs 99.97 is no finding)
                if gap > max(math.hypot(bb["se"], e["se"]), MIN_GAP):
                    beats.append((p, e["mean"], bb["mean"], math.hypot(bb["se"], e["se"])))
            row["beats"] = beats
            row["one_seed"] = min(counts) < 2
        out[m] = row
    return out


def _pm(value: float, se: float | None, sign: bool = False) -> str:
    v = f"{value:+.1f}" if sign else f"{value:.1f}"
    return f"{v} ± {se:.1f}" if se is not None else f"{v} (one seed somewhere: no SE)"


def _peer_section(res: dict[str, Any]) -> list[str]:
    """The table of each method against tunehooks bayes (:func:`peer_comparison`)."""
    if not any("bayes" in e for e in res["problems"].values()):
        return []
    comp = peer_comparison(res)
    lines = [
        "",
        "## Against each peer",
        "",
        "Suite mean ± its standard error (the problems' standard errors over seeds, "
        "combined: √(Σ SE²) / problems; none where a problem has one seed). bayes − method: "
        "tunehooks bayes' mean on all its seeds minus the method's; paired: on exactly "
        "the method's seeds (per problem the mean of the per-seed differences), ± the "
        "standard error of that difference.",
        "",
        "| method | problems | seeds per problem | mean ± SE | bayes − method ± SE | "
        "bayes − method, paired on its seeds ± SE |",
        "|---|---|---|---|---|---|",
    ]
    for m, r in comp.items():
        lo, hi = r["seeds"]
        seeds = f"{lo}" if lo == hi else f"{lo}-{hi}"
        diff = "—" if m == "bayes" else _pm(*r["diff"], sign=True)
        paired = "—" if m == "bayes" or r["paired"] is None else _pm(*r["paired"], sign=True)
        lines.append(
            f"| {METHODS[m][0]} | {r['problems']} | {seeds} | {_pm(r['mean'], r['se'])} | "
            f"{diff} | {paired} |"
        )
    behind = [METHODS[m][0] for m, r in comp.items() if m != "bayes" and r["diff"][0] <= 0]
    lines += [
        "",
        "tunehooks bayes ahead of every peer on the mean: "
        + ("yes" if not behind else "no (not ahead of " + ", ".join(behind) + ")")
        + ".",
    ]
    lines += [
        "",
        "Problems where a method's mean is above tunehooks bayes' by more than the standard "
        f"error of the difference (and by at least {MIN_GAP}; a one-seed method's own "
        "standard error counts as 0, so its list is an upper bound):",
        "",
    ]
    n = 0
    for m, r in comp.items():
        if m in ("bayes", "random") or not r["beats"]:
            continue
        n += 1
        items = ", ".join(f"{p} {pm:.1f} vs {bm:.1f} (± {se:.1f})" for p, pm, bm, se in r["beats"])
        lo, hi = r["seeds"]
        seeds = f"{lo} seed" + ("s" if hi > 1 else "") if lo == hi else f"{lo}-{hi} seeds"
        lines.append(f"- {METHODS[m][0]} ({seeds}): {items}")
    if not n:
        lines.append("- none")
    return lines


def _fmt(e: dict[str, Any] | None, rand: dict[str, Any] | None) -> str:
    if e is None:
        return "—"
    flag = " ▼" if rand is not None and e["mean"] < rand["mean"] else ""
    return f"{e['mean']:.1f} ±{e['se']:.1f} ({len(e['scores'])}){flag}"


def _env() -> list[str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def git(*a: str) -> str:
        r = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, check=False)
        return r.stdout.strip()

    import os

    return [
        f"- machine: {cpu}, {os.cpu_count()} cores shared with other work, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"- tunehooks: commit {git('log', '-1', '--format=%h %cs', '--', 'src/tunehooks')}; "
        f"GP optimizer commit "
        f"{git('log', '-1', '--format=%h %cs', '--', 'src/tunehooks/optimizers/gp') or 'none'}",
    ]


def _parallel_section() -> list[str]:
    """The 8-workers-at-once measurement (bench/blackbox/parallel.py), when it was run."""
    path = CACHE / "parallel.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    lines = [
        "",
        "## Eight workers asking at the same moment",
        "",
        f"`python bench/blackbox/parallel.py` ({data['measured']}): per problem and seed, an "
        "experiment on a fresh SQLite file gets 10 finished trials, then 8 processes, each "
        "with its own `Experiment.load`, wait on a barrier and call `ask()` together "
        "(tunehooks bayes; the started trials stay RUNNING, pending for each other). "
        "Distance: Euclidean, in the GP's unit features; the bar is the optimizer's "
        "`min_distance`. Before the barrier each worker warms up (one GP suggestion, not "
        "started: a fresh process loads torch's, gpytorch's and scipy's lazy modules on its "
        "first ask); reference = one single-threaded ask in a warm process × 8 / cores (8 "
        "asks sharing the cores, nothing serialized); proposals = GP suggestions each ask "
        "made (a worker whose snapshot went stale proposes again; the last try is made "
        "inside the write lock). Test: tests/unit/test_gp_parallel_workers.py.",
        "",
        "| problem | seed | distinct of 8 | smallest distance between two | bar | "
        "median / slowest ask (s) | reference (s) | proposals per ask | "
        "warm-up, 8 fresh processes at once (s) | load before |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["runs"]:
        md = "—" if r["min_distance"] is None else f"{r['min_distance']:.3f}"
        ref = f"{r['reference_s']:.2f}" if "reference_s" in r else "—"
        props = ", ".join(map(str, r["proposals"])) if "proposals" in r else "—"
        warm = f"{r['median_warmup_s']:.2f}" if "median_warmup_s" in r else "—"
        load = f"{r['load_before']:.1f}" if "load_before" in r else "—"
        lines.append(
            f"| {r['problem']} | {r['seed']} | {r['distinct']} | {md} | {r['bar']} | "
            f"{r['median_ask_s']:.2f} / {r['slowest_ask_s']:.2f} | {ref} | {props} | "
            f"{warm} | {load} |"
        )
    return lines


def write_markdown(res: dict[str, Any], command: str) -> str:
    methods = [m for m in METHODS if res["methods"][m]["problems"]]
    n_prob = len(res["problems"])
    lines = [
        "# Black-box benchmark",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `{command}`. "
        f"{res['evals']} evaluations per run; cell = mean score ± standard error (seeds). "
        "Score as in bayesmark: 100 × (1 − (best − f*) / (f_ref − f*)); 100 = optimum, "
        "0 = the median random configuration. ▼ = mean below tunehooks random search on "
        "that problem. Methods are scored on the same objectives in the same process, and on "
        "the same seeds of a problem (HEBO, SMAC3 and Ax, 2–30 s per ask here, on fewer seeds "
        "and, where the time ran out, fewer problems: see the counts in brackets). "
        "† = held out: kept aside while the GP was tuned (bench/blackbox/suite.py); the "
        "GP's changes were chosen on the tuning part only.",
        "",
        "| problem | " + " | ".join(METHODS[m][0] for m in methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for p, e in res["problems"].items():
        rand = e.get("random")
        tag = f"{p} †" if p in HELD_OUT else p
        lines.append(f"| {tag} | " + " | ".join(_fmt(e.get(m), rand) for m in methods) + " |")
    for part, names in (
        ("tuning part", [p for p in res["problems"] if p not in HELD_OUT]),
        ("held-out part †", [p for p in res["problems"] if p in HELD_OUT]),
    ):
        cells = []
        for m in methods:
            vals = [res["problems"][p][m]["mean"] for p in names if m in res["problems"][p]]
            cells.append(f"{np.mean(vals):.1f} ({len(vals)})" if vals else "—")
        lines.append(f"| mean, {part} | " + " | ".join(cells) + " |")
    means = []
    for m in methods:
        mm = res["methods"][m]
        txt = f"**{mm['mean']:.1f}**" if mm["problems"] == n_prob else f"{mm['mean']:.1f}"
        means.append(txt + ("" if mm["problems"] == n_prob else f" ({mm['problems']} problems)"))
    lines.append("| **mean** | " + " | ".join(means) + " |")
    full = [m for m in methods if res["methods"][m]["problems"] == n_prob]
    ranked = sorted(full, key=lambda m: -res["methods"][m]["mean"])
    lines += ["", "Ranking (methods with every problem): " + ", ".join(
        f"{METHODS[m][0]} {res['methods'][m]['mean']:.1f}" for m in ranked) + "."]  # fmt: skip
    if "bayes" in methods:
        worse = []
        for p, e in res["problems"].items():
            if "bayes" in e and "random" in e and e["bayes"]["mean"] < e["random"]["mean"]:
                b, r = e["bayes"], e["random"]
                noise = math.hypot(b["se"], r["se"])
                d = r["mean"] - b["mean"]
                beyond = " — beyond its standard error" if d > noise else ""
                worse.append(
                    f"{p} (by {d:.1f}, standard error of the difference {noise:.1f}{beyond})"
                )
        lines.append(
            "tunehooks bayes worse than random search on: "
            + ("; ".join(worse) or "no problem")
            + "."
        )
        diffs = []
        for m in methods:
            shared = [p for p, e in res["problems"].items() if "bayes" in e and m in e]
            if m == "bayes" or not shared:
                continue
            d = float(np.mean([res["problems"][p]["bayes"]["mean"] - res["problems"][p][m]["mean"]
                               for p in shared]))  # fmt: skip
            txt = f"{METHODS[m][0]} {d:+.1f} ({len(shared)} problems"
            if m in SLOW:  # few seeds: also on exactly the peer's seeds
                same = []
                for p in shared:
                    e = res["problems"][p]
                    by_seed = dict(zip(e["bayes"]["seeds"], e["bayes"]["scores"], strict=True))
                    pairs = [
                        (by_seed[s], v)
                        for s, v in zip(e[m]["seeds"], e[m]["scores"], strict=True)
                        if s in by_seed
                    ]
                    if pairs:
                        same.append(float(np.mean([a - b for a, b in pairs])))
                if same:
                    txt += f"; {np.mean(same):+.1f} on the peer's seeds only"
            diffs.append(txt + ")")
        lines.append(
            "tunehooks bayes minus each method, mean score over the problems both ran: "
            + "; ".join(diffs)
            + "."
        )
    for part, names in (
        ("tuning part", [p for p in res["problems"] if p not in HELD_OUT]),
        ("held-out part †", [p for p in res["problems"] if p in HELD_OUT]),
    ):
        if "bayes" not in methods or "random" not in methods:
            break
        d = [
            (p, res["problems"][p]["bayes"], res["problems"][p]["random"])
            for p in names
            if "bayes" in res["problems"][p] and "random" in res["problems"][p]
        ]
        beyond = [p for p, b, r in d if r["mean"] - b["mean"] > math.hypot(b["se"], r["se"])]
        lines.append(
            f"{part.capitalize()}: tunehooks bayes ahead of random on "
            f"{sum(b['mean'] > r['mean'] for _, b, r in d)} of {len(d)} problems, tied on "
            f"{sum(b['mean'] == r['mean'] for _, b, r in d)}, below by more than the standard "
            f"error of the difference on {len(beyond)}"
            + (f" ({', '.join(beyond)})" if beyond else "")
            + "."
        )
    lines += _peer_section(res)
    lines += _parallel_section()
    lines += ["", "## Reference values", "",
              "| problem | f* | f_ref (median of 256 random) | description |", "|---|---|---|---|"]  # fmt: skip
    for p, e in res["problems"].items():
        src = "known" if e["known"] else "best found"
        lines.append(
            f"| {p} | {e['f_star']:.6g} ({src}) | {e['f_ref']:.6g} | {PROBLEMS[p].description} |"
        )
    lines += ["", "## Median time per ask inside the runs (s)", "",
              "| problem | " + " | ".join(METHODS[m][0] for m in methods) + " |",
              "|---|" + "---|" * len(methods)]  # fmt: skip
    for p, e in res["problems"].items():
        cells = [f"{e[m]['ask_median_s']:.3f}" if m in e else "—" for m in methods]
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    lines += ["", "## Environment and versions", "", *_env()]
    for m in METHODS:
        v = res["methods"][m]["versions"]
        if v:
            lines.append(f"- {METHODS[m][0]}: " + ", ".join(f"{k} {x}" for k, x in v.items()))
    missing = []
    for m, venv in PEER_VENV.items():
        why = peer_status(venv)
        if why:
            missing.append(f"- {METHODS[m][0]}: {why}")
        elif res["methods"][m]["problems"] < len(res["problems"]):
            missing.append(
                f"- {METHODS[m][0]}: installed; runs on {res['methods'][m]['problems']} of "
                f"{len(res['problems'])} problems only (its asks cost 2–30 s here: see "
                "ask_overhead.md); `run.sh` continues them"
            )
    if not res["methods"]["bayes"]["problems"]:
        missing.append("- tunehooks bayes: no runs (the GP optimizer was not importable)")
    if missing:
        lines += ["", "## Not run", "", *missing]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--evals", type=int, default=60)
    ap.add_argument("--out", default=str(RESULTS / "blackbox.md"))
    ap.add_argument("--command", default="bash bench/blackbox/run.sh")
    ap.add_argument("--raw", type=Path, default=RAW, help="where the runs are cached")
    args = ap.parse_args(argv)
    res = scores(args.evals, args.raw)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(write_markdown(res, args.command))
    compact = {
        p: {m: {"seeds": e[m]["seeds"], "best": e[m]["best"]} for m in METHODS if m in e}
        for p, e in res["problems"].items()
    }
    out.with_suffix(".json").write_text(json.dumps(compact, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
