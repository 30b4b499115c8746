"""Scores the cached multi-fidelity runs: one markdown table per table, and the summary.

Conventions (every method alike): cost = epochs trained (a paused trial that
resumes pays only its new epochs); the incumbent is the best configuration
trained to the full 30 epochs, chosen by its observed value and reported by its
true final value (seed 0 of the table); a run stops once its incumbent is the
table's best. A "point" is 0.01 of accuracy for an accuracy objective, and 10% of
the gap between the best and the median final value for a loss (minimized): the
median configuration is then 10 points from the best, as on the accuracy tables
(3 to 10 points there; 1% of the gap would leave a single configuration within 1
point of a loss table's best).
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = ROOT / "bench" / ".cache" / "multifidelity"
RESULTS = ROOT / "bench" / "results" / "multifidelity"
SUMMARY = ROOT / "bench" / "results" / "multifidelity.md"
DATA = ROOT / "bench" / "data"
CHECKPOINTS = (100, 300, 1000)
INF = float("inf")


class Scale:
    """A table's objective, its best final value and its point."""

    def __init__(self, table: str) -> None:
        meta = json.loads((DATA / f"{table}.json").read_text())
        obj = meta.get("objective")
        obj = obj if isinstance(obj, dict) else {"name": "val_acc", "goal": "maximize"}
        self.meta = meta
        self.metric = str(obj["name"])
        self.sign = 1.0 if obj.get("goal", "maximize") == "maximize" else -1.0
        final = np.load(DATA / f"{table}.npz")[self.metric][:, -1].astype(float)
        final = final[np.isfinite(final)]
        self.best = float(np.max(self.sign * final) * self.sign)
        if self.sign > 0 and self.metric.endswith("acc"):
            self.point, self.unit = 0.01, "1 point = 0.01 accuracy"
        else:
            gap = abs(float(np.median(final)) - self.best)
            self.point = gap / 10
            self.unit = (
                f"1 point = 10% of the gap best-median final {self.metric} ({self.point:.4g})"
            )

    def regret(self, value: float | None) -> float:
        """Points from the table's best (inf: no full training yet)."""
        if value is None or not math.isfinite(value):
            return INF
        return max(0.0, self.sign * (self.best - value) / self.point)


def incumbent_at(trace: list[list[float]], epochs: float) -> float | None:
    best = None
    for e, v, *_ in trace:
        if e > epochs:
            break
        best = v
    return best


def epochs_to(trace: list[list[float]], scale: Scale, points: float) -> float:
    for e, v, *_ in trace:
        if scale.regret(v) <= points + 1e-9:
            return float(e)
    return INF


def _eps(values: list[float]) -> str:
    med = statistics.median(values)
    hit = sum(v < INF for v in values)
    m = "never" if med == INF else f"{med:.0f}"
    return f"{m} ({hit}/{len(values)})"


def _reg(values: list[float]) -> str:
    med = statistics.median(values)
    return "-" if med == INF else f"{med:.2f}"


SCORED_SEEDS = 10  # the result tables score seeds 0-9 of every method (raw/ keeps them all)


def load_runs(
    table: str, method: str, workers: int, cap: int, *, seeds: int | None = None
) -> list[dict[str, Any]]:
    """The cached runs of seeds ``0 .. seeds-1`` (default ``SCORED_SEEDS``; 0: every one)."""
    limit = SCORED_SEEDS if seeds is None else seeds
    files = sorted((CACHE / table / method).glob(f"e{cap}-w{workers}-s*.json"))
    keep = [f for f in files if not limit or int(f.stem.rsplit("-s", 1)[1]) < limit]
    return [json.loads(f.read_text()) for f in keep]


def score(table: str, method: str, workers: int, cap: int) -> dict[str, Any] | None:
    runs = load_runs(table, method, workers, cap)
    if not runs:
        return None
    sc = Scale(table)
    e05 = [epochs_to(r["trace"], sc, 0.5) for r in runs]
    e10 = [epochs_to(r["trace"], sc, 1.0) for r in runs]
    reg = {c: [sc.regret(incumbent_at(r["trace"], c)) for r in runs] for c in CHECKPOINTS}
    return {
        "seeds": len(runs),
        "e05": statistics.median(e05),
        "e10": statistics.median(e10),
        "r300": statistics.median(reg[300]),
        "cells": [_reg(reg[c]) for c in CHECKPOINTS] + [_eps(e05), _eps(e10)],
        "wall_s": statistics.median(r.get("wall_s", 0.0) for r in runs),
    }


def _failure(table: str, method: str, workers: int) -> str | None:
    fails = sorted((CACHE / table / method).glob(f"FAILED-w{workers}*.txt"))
    if not fails:
        return None
    lines = [ln for ln in fails[0].read_text().splitlines() if ln.strip()]
    return (lines[-1] if lines else "failed")[:160].replace("|", "/")


def _not_run(method: str, skipped: dict[str, tuple[str, str]], table: str, w: int) -> str:
    if method in skipped:
        return skipped[method][1]
    return _failure(table, method, w) or "no runs cached yet"


def table_md(
    table: str,
    methods: dict[str, str],
    skipped: dict[str, tuple[str, str]],
    workers: list[int],
    cap: int,
) -> str:
    sc = Scale(table)
    st = sc.meta.get("stats", {})
    goal = "maximize" if sc.sign > 0 else "minimize"
    lines = [
        f"# Multi-fidelity benchmark: {table}",
        "",
        f"{sc.meta['n_configs']} configurations x {sc.meta['epochs']} epochs "
        f"({sc.meta.get('model', '')} on {sc.meta.get('dataset', '')}); objective "
        f"{sc.metric} ({goal}), best final {sc.best:.4f}; {sc.unit}.",
    ]
    if "spearman_epoch1_final" in st:
        lines.append(
            f"Rank correlation (Spearman) epoch 1 vs epoch 30: {st['spearman_epoch1_final']:.2f}."
        )
    lines += [
        "",
        "Regret (points from the table's best, median over seeds; `-`: no full training yet)",
        "after 100/300/1,000 epochs, and the epochs until the incumbent is within 0.5 and 1",
        f"point (median; runs that got there / runs; `never`: the median run did not within {cap:,}).",
        "",
    ]
    for w in workers:
        lines += [
            f"## {w} worker{'s' if w > 1 else ''}",
            "",
            "| method | seeds | regret@100 | regret@300 | regret@1000 | epochs to 0.5 pt "
            "| epochs to 1 pt |",
            "|---|---|---|---|---|---|---|",
        ]
        for m, label in methods.items():
            s = score(table, m, w, cap)
            if s is None:
                lines.append(f"| {label} | 0 | not run: {_not_run(m, skipped, table, w)} |||||")
            else:
                lines.append(f"| {label} | {s['seeds']} | " + " | ".join(s["cells"]) + " |")
        for m, (label, why) in skipped.items():
            if m not in methods:
                lines.append(f"| {label} | 0 | not run: {why} |||||")
        lines.append("")
    return "\n".join(lines)


def _ratio(ours: float, peer: float) -> str:
    if peer == INF:
        return "-" if ours == INF else "<1 (peer never)"
    if peer == 0:
        return "-"
    return f"{ours / peer:.2f}"


def summary_md(
    names: list[str], methods: dict[str, str], workers: list[int], cap: int, note: str
) -> str:
    lines = [
        "# Multi-fidelity benchmark: every table",
        "",
        "Produced by `bash bench/multifidelity/run.sh` (bench/multifidelity/run.py; per-table",
        "details in bench/results/multifidelity/<table>.md). Tables: bench/data (record.py).",
        "Each cell: median epochs to <= 0.5 point / to <= 1 point of the table's best final",
        "value / regret in points after 300 epochs (`never`, `-`: not within the cap);",
        "10 seeds unless the cell says otherwise.",
        "",
        __doc__.split("\n\n", 1)[1].strip(),
        "",
    ]
    if note:
        lines += [note.strip(), ""]
    for w in workers:
        lines += [f"## {w} worker{'s' if w > 1 else ''}", ""]
        lines.append("| method | " + " | ".join(names) + " |")
        lines.append("|---" * (len(names) + 1) + "|")
        got: dict[str, dict[str, dict[str, Any] | None]] = {}
        for m, label in methods.items():
            got[m] = {t: score(t, m, w, cap) for t in names}
            cells = []
            for t in names:
                s = got[m][t]
                if s is None:
                    cells.append("not run")
                    continue
                e05 = "never" if s["e05"] == INF else f"{s['e05']:.0f}"
                e10 = "never" if s["e10"] == INF else f"{s['e10']:.0f}"
                few = f" ({s['seeds']} seeds)" if s["seeds"] < 10 else ""
                cells.append(f"{e05} / {e10} / {_reg([s['r300']])}{few}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
        ours = [m for m in methods if m.startswith("tunehooks")]
        peers = [m for m in methods if not m.startswith("tunehooks")]
        for m in ours:
            lines.append(f"Ratio {methods[m]} / best peer (epochs to 0.5 point; best peer named):")
            lines.append("")
            for t in names:
                s = got[m][t]
                ps = {p: got[p][t] for p in peers if got[p][t] is not None}
                if s is None or not ps:
                    continue
                bp = min(ps, key=lambda p: ps[p]["e05"])  # type: ignore[index]
                b = ps[bp]["e05"]  # type: ignore[index]
                lines.append(
                    f"- {t}: {_ratio(s['e05'], b)} ({s['e05']:.0f} vs {methods[bp]} {b:.0f})"
                )
            lines.append("")
    return "\n".join(lines)


def write_raw(table: str, methods: dict[str, str], workers: list[int], cap: int) -> None:
    """Every cached run's incumbent trace, compact, under bench/results/multifidelity/raw/."""
    raw: dict[str, dict[str, dict[str, Any]]] = {}
    for m in methods:
        for w in workers:
            for f in sorted((CACHE / table / m).glob(f"e{cap}-w{w}-s*.json")):
                r = json.loads(f.read_text())
                seed = f.stem.rsplit("-s", 1)[1]
                run = {"trace": [[int(e), round(float(v), 6)] for e, v, *_ in r["trace"]]}
                run["total_epochs"] = r["total_epochs"]
                raw.setdefault(m, {}).setdefault(f"w{w}", {})[seed] = run
    if raw:
        out = RESULTS / "raw" / f"{table.replace('/', '-')}-e{cap}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(raw, separators=(",", ":"), sort_keys=True) + "\n")


def restore_cache(table: str, cap: int) -> int:
    """Writes the committed traces of raw/<table>-e<cap>.json back into the cache for the
    runs missing there (a fresh clone has no cache; write_raw rewrites the raw file from
    the cache alone, so without this a new run would drop every other method's traces).
    A run restored before follows the committed file when it changed (a merge); a run
    made in this checkout is kept. Returns how many runs were written."""
    raw_file = RESULTS / "raw" / f"{table.replace('/', '-')}-e{cap}.json"
    if not raw_file.exists():
        return 0
    n = 0
    for m, by_workers in json.loads(raw_file.read_text()).items():
        for wkey, runs in by_workers.items():
            for seed, run in runs.items():
                out = CACHE / table / m / f"e{cap}-{wkey}-s{seed}.json"
                data = {**run, "max_epochs": cap, "restored": True}
                if out.exists():
                    old = json.loads(out.read_text())
                    # a run made here stays; a restored one follows the committed file
                    if not old.get("restored") or old == data:
                        continue
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(data))
                n += 1
    return n


def write_all(
    names: list[str],
    methods: dict[str, str],
    skipped: dict[str, tuple[str, str]],
    workers: list[int],
    cap: int,
) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    for t in names:
        (RESULTS / f"{t.replace('/', '-')}.md").write_text(
            table_md(t, methods, skipped, workers, cap)
        )
        write_raw(t, methods, workers, cap)
    import variants

    suite = sorted(p.stem for p in DATA.glob("*.npz"))  # the summary: every table of the suite
    if suite:
        note = str(getattr(variants, "NOTE", ""))
        SUMMARY.write_text(summary_md(suite, methods, workers, cap, note))
