"""Leave-one-table-out choice of tunehooks' default multi-fidelity method.

Reads selection runs (JSON lines: table, variant, seed, e05, e10; e05/e10 the
cumulative epochs until the incumbent is within 0.5 / 1 point of the table's
best, 10**6 when never within the cap) and, for each table, chooses the
candidate that does best on the OTHER tables (mean over those tables of
log(median epochs to 0.5 point / the best candidate's median there)); the
chosen candidate's result on the held-out table is what may be reported for
it. Writes a markdown table.

With ``--target`` the rows may hold peers too (a variant whose name does not start
with ``tunehooks``); the choice is then by the issue's own target first: the fewest
other tables where the candidate's median is above the best peer's, ties by the
mean log-ratio above.

Usage: python bench/multifidelity/loto.py RUNS.jsonl [--out FILE.md] [--min-seeds N]
    [--preface FILE.md] [--target]
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import statistics
from pathlib import Path

NEVER = 10**6
CAP = 2000.0  # a run that never got there counts as twice the 1,000-epoch cap


def medians(rows: list[dict]) -> dict[tuple[str, str], tuple[float, float, int]]:
    groups: dict[tuple[str, str], list[dict]] = collections.defaultdict(list)
    for r in rows:
        groups[(r["table"], r["variant"])].append(r)
    out = {}
    for key, rs in groups.items():
        e05 = statistics.median(min(CAP, r["e05"]) for r in rs)
        e10 = statistics.median(min(CAP, r["e10"]) for r in rs)
        out[key] = (e05, e10, len(rs))
    return out


def is_peer(variant: str) -> bool:
    return not variant.startswith("tunehooks")


def choose(
    med: dict,
    tables: list[str],
    variants: list[str],
    held_out: str,
    peers: list[str] | None = None,
) -> str:
    """The variant with the best mean log-ratio to the best variant on the other tables;
    with ``peers``, first the fewest other tables where it is above the best peer."""

    def score(v: str) -> float:
        total = 0.0
        for t in tables:
            if t == held_out:
                continue
            best = min(med[(t, u)][0] for u in variants)
            total += math.log(med[(t, v)][0] / best)
        return total / max(1, len(tables) - 1)

    def misses(v: str) -> int:
        if not peers:
            return 0
        return sum(
            med[(t, v)][0] > min(med[(t, p)][0] for p in peers if (t, p) in med)
            for t in tables
            if t != held_out
        )

    return min(variants, key=lambda v: (misses(v), score(v), v))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--min-seeds", type=int, default=10)
    ap.add_argument("--preface", type=Path, help="markdown put after the title (how it was run)")
    ap.add_argument("--target", action="store_true", help="choose by the best peer first")
    a = ap.parse_args()
    rows = [json.loads(line) for line in a.runs.read_text().splitlines() if line.strip()]
    med = medians(rows)
    tables = sorted({t for t, _ in med})
    variants = sorted({v for _, v in med})
    complete = [
        v
        for v in variants
        if all(med.get((t, v), (0, 0, 0))[2] >= a.min_seeds for t in tables)
        and not (a.target and is_peer(v))
    ]
    peers = [v for v in variants if is_peer(v)] if a.target else None
    lines = [
        "# Choosing the default by leave-one-table-out",
        "",
        *([a.preface.read_text().strip(), ""] if a.preface else []),
        "Median epochs to <= 0.5 point / <= 1 point of the table's best (1 worker; runs stop",
        f"once within 0.5 point; `{CAP:.0f}`: not within the 1,000-epoch cap). Candidates with "
        f">= {a.min_seeds} seeds on every table: {', '.join(complete) or 'none'}.",
        "",
        "| variant | " + " | ".join(tables) + " |",
        "|---|" + "---|" * len(tables),
    ]
    for v in variants:
        cells = []
        for t in tables:
            m = med.get((t, v))
            cells.append("-" if m is None else f"{m[0]:.0f} / {m[1]:.0f} ({m[2]})")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    lines += ["", "| held-out table | chosen on the others | its epochs to 0.5 point there |"]
    lines += ["|---|---|---|"]
    for t in tables:
        if not complete:
            break
        pick = choose(med, tables, complete, t, peers)
        lines.append(f"| {t} | {pick} | {med[(t, pick)][0]:.0f} |")
    text = "\n".join(lines) + "\n"
    if a.out:
        a.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
