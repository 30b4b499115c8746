"""Scores the cached multi-fidelity runs and writes the markdown table."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np

CHECKPOINTS = (100, 300, 1000, 3000)
MAX_EPOCHS = 3000


def incumbent_at(trace: list[list[float]], epochs: float) -> float | None:
    best = None
    for e, v, *_ in trace:
        if e > epochs:
            break
        best = v
    return best


def epochs_to(trace: list[list[float]], target: float) -> float:
    for e, v, *_ in trace:
        if v >= target - 1e-9:
            return float(e)
    return float("inf")


def _fmt_eps(values: list[float]) -> str:
    med = statistics.median(values)
    hit = sum(v < float("inf") for v in values)
    m = "never" if med == float("inf") else f"{med:.0f}"
    return f"{m} ({hit}/{len(values)})"


def write_results(
    cache: Path, out: Path, methods: dict, workers: list[int], data: Path, max_epochs: int
) -> None:
    z = np.load(str(data) + ".npz")
    best = float(np.nanmax(z["val_acc"][:, -1]))
    t05, t10 = best - 0.005, best - 0.01
    lines = [
        "# Multi-fidelity benchmark: digits-MLP learning curves",
        "",
        "Produced by `bash bench/multifidelity/run.sh` (bench/multifidelity/run.py). 810 recorded",
        "configurations x 30 epochs of a PyTorch MLP on digits (bench/data); each method runs on a",
        "simulated clock (epochs last their recorded time), asynchronous workers, up to",
        f"{max_epochs:,} cumulative epochs (n/a: beyond that cap). The incumbent is the best configuration trained for all 30 epochs; the",
        "table shows its true 30-epoch validation accuracy (median over seeds; `-`: no full",
        "training yet) and the cumulative epochs until it is within 0.5 and 1 accuracy point of",
        f"the best configuration in the table ({best:.4f}): median over seeds, (runs that got",
        "there / runs; `never`: the median run did not get there within the cap). A run stops",
        "early once it has the table's best (nothing can change after).",
        "",
    ]
    summary: dict[int, dict[str, float]] = {}
    for w in workers:
        lines += [
            f"## {w} worker{'s' if w > 1 else ''}",
            "",
            "| method | seeds | acc@100 | acc@300 | acc@1000 | acc@3000 | epochs to 0.5% "
            "| epochs to 1% |",
            "|---|---|---|---|---|---|---|---|",
        ]
        summary[w] = {}
        for name, (label, _venv) in methods.items():
            files = sorted((cache / name).glob(f"e{max_epochs}-w{w}-s*.json"))
            if not files:
                lines.append(f"| {label} | 0 | not run |  |  |  |  |  |")
                continue
            runs = [json.loads(f.read_text()) for f in files]
            cells = []
            for c in CHECKPOINTS:
                if c > max_epochs:
                    cells.append("n/a")
                    continue
                vals = [incumbent_at(r["trace"], c) for r in runs]
                got = [v for v in vals if v is not None]
                cells.append(f"{statistics.median(got):.4f}" if len(got) > len(vals) / 2 else "-")
            e05 = [epochs_to(r["trace"], t05) for r in runs]
            e10 = [epochs_to(r["trace"], t10) for r in runs]
            summary[w][label] = statistics.median(e05)
            row = f"| {label} | {len(runs)} | " + " | ".join(cells)
            lines.append(row + f" | {_fmt_eps(e05)} | {_fmt_eps(e10)} |")
        lines.append("")
    lines += ["## Ratio to the best peer (epochs to 0.5%, median)", ""]
    for w, res in summary.items():
        ours = next((v for k, v in res.items() if k.startswith("tunehooks")), None)
        peers = {k: v for k, v in res.items() if not k.startswith("tunehooks")}
        if ours is None or not peers:
            continue
        name, best_peer = min(peers.items(), key=lambda kv: kv[1])
        ratio = ours / best_peer if best_peer not in (0, float("inf")) else float("nan")
        lines.append(
            f"- {w} worker(s): tunehooks {ours:.0f} epochs, best peer {name} {best_peer:.0f}: "
            f"ratio {ratio:.2f} ({'fewer' if ours < best_peer else 'not fewer'})"
        )
    lines.append("")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
