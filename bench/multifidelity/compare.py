"""Rows for loto.py from the run cache, and a quick comparison of cached runs.

Reads bench/.cache/multifidelity/<table>/<method>/e<cap>-w<workers>-s<seed>.json
(what run.py caches) and prints, per table, each method's median epochs to
0.5 point, to 1 point and its regret after 300 epochs over the seeds asked for; ``--jsonl FILE`` also writes
one line a run in loto.py's format (table, variant, seed, e05, e10; 10**6 when
never within the cap).

Usage:
    python bench/multifidelity/compare.py --methods a,b --tables t1,t2 [--seeds 5]
        [--workers 1] [--jsonl runs.jsonl]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE))

from score import CACHE, INF, Scale, epochs_to, incumbent_at  # noqa: E402

NEVER = 10**6


def rows(
    tables: list[str], methods: list[str], seeds: list[int], workers: int, cap: int
) -> list[dict]:
    out = []
    for t in tables:
        sc = Scale(t)
        for m in methods:
            for s in seeds:
                f = CACHE / t / m / f"e{cap}-w{workers}-s{s}.json"
                if not f.exists():
                    continue
                tr = json.loads(f.read_text())["trace"]
                e05, e10 = epochs_to(tr, sc, 0.5), epochs_to(tr, sc, 1.0)
                r300 = sc.regret(incumbent_at(tr, 300))
                out.append(
                    {
                        "table": t,
                        "variant": m,
                        "seed": s,
                        "e05": NEVER if e05 == INF else e05,
                        "e10": NEVER if e10 == INF else e10,
                        "r300": r300,
                    }
                )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", required=True)
    ap.add_argument("--tables", required=True)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-epochs", type=int, default=1000)
    ap.add_argument("--jsonl", type=Path)
    a = ap.parse_args()
    tables = a.tables.split(",")
    methods = a.methods.split(",")
    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    rs = rows(tables, methods, seeds, a.workers, a.max_epochs)
    if a.jsonl:
        a.jsonl.write_text("".join(json.dumps(r) + "\n" for r in rs))
    width = max(len(m) for m in methods)
    print(" " * width, " ".join(f"{t[:12]:>19s}" for t in tables), "  geo-mean ratio to best")
    med: dict[tuple[str, str], float] = {}
    for m in methods:
        for t in tables:
            v = [min(2000, r["e05"]) for r in rs if r["table"] == t and r["variant"] == m]
            med[(t, m)] = statistics.median(v) if v else float("nan")
    import math

    for m in methods:
        cells, logs = [], []
        for t in tables:
            v = [r for r in rs if r["table"] == t and r["variant"] == m]
            e05 = med[(t, m)]
            e10 = statistics.median(min(2000, r["e10"]) for r in v) if v else float("nan")
            r3 = statistics.median(r["r300"] for r in v) if v else float("nan")
            cells.append(f"{e05:5.0f}/{e10:4.0f}/{r3:4.2f}({len(v)})")
            best = min(med[(t, u)] for u in methods)
            if v:
                logs.append(math.log(e05 / best))
        gm = math.exp(sum(logs) / len(logs)) if logs else float("nan")
        print(f"{m:{width}s}", " ".join(f"{c:>19s}" for c in cells), f"  {gm:.2f}")


if __name__ == "__main__":
    main()
