"""Records the learning-curve tables of bench/multifidelity/tables.py (resumable).

Trains every configuration of a table's grid for 30 epochs with torch on one CPU
thread, then about 10% of them again with seed 1, and writes
``bench/data/<name>.npz`` + ``.json`` in the format of ``bench/data/digits-mlp``
(``LearningCurves.load`` reads them). Progress is kept in
``bench/.cache/record/<name>.npz`` every few configurations, so a stopped
recording resumes where it stopped.

Per epoch: ``val_acc`` (classification), ``val_loss`` (cross-entropy or MSE;
NaN = diverged), ``train_loss`` (mean over the epoch's batches) and
``train_time`` (cumulative seconds of training, evaluation excluded). A
configuration whose loss turns non-finite stops training: its remaining epochs
repeat the last validation accuracy, have NaN losses and cost the mean epoch time
so far.

Usage:
    nice python bench/multifidelity/record.py --list
    nice python bench/multifidelity/record.py --table breast-mlp [--table ...]
    nice python bench/multifidelity/record.py --all
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "bench" / "data"
PROGRESS = ROOT / "bench" / ".cache" / "record"
sys.path.append(str(HERE))  # after the standard library: a bench module never shadows it

from tables import (  # noqa: E402
    EPOCHS,
    TABLES,
    Table,
    build_model,
    data_of,
    label_smoothing,
    lr_factor,
    make_optimizer,
)

SEED1_FRACTION = 0.1
SAVE_EVERY_S = 20.0


def grid(table: Table) -> list[tuple[int, ...]]:
    return list(itertools.product(*(range(len(p.values)) for p in table.params.values())))


def seed1_rows(n: int) -> np.ndarray:
    k = max(1, round(n * SEED1_FRACTION))
    return np.sort(np.random.default_rng(0).choice(n, size=k, replace=False)).astype(np.int32)


def train_curve(
    table: Table, cfg: dict[str, Any], data: tuple[np.ndarray, ...], seed: int
) -> np.ndarray:
    """[4, EPOCHS]: val_acc, val_loss, train_loss, cumulative train seconds."""
    import torch
    import torch.nn.functional as F

    xt, yt, xv, yv = (torch.from_numpy(np.asarray(a)) for a in data)
    regress = table.task == "regress"
    if not regress:
        yt, yv = yt.long(), yv.long()
    n_out = 1 if regress else int(yt.max()) + 1
    torch.manual_seed(seed)
    model = build_model(table, cfg, xt.shape[1], n_out)
    opt = make_optimizer(cfg, model.parameters())
    base_lr = float(cfg["lr"])
    bs = int(cfg.get("batch_size", table.batch_size or 32))
    gen = torch.Generator().manual_seed(seed)

    smooth = label_smoothing(cfg)

    def loss_of(out: torch.Tensor, y: torch.Tensor, *, train: bool = False) -> torch.Tensor:
        if regress:
            return F.mse_loss(out.squeeze(1), y)
        return F.cross_entropy(out, y, label_smoothing=smooth if train else 0.0)

    rec = np.full((4, EPOCHS), np.nan, dtype=np.float64)
    spent = 0.0
    diverged = False
    for e in range(EPOCHS):
        if diverged:
            rec[0, e] = rec[0, e - 1]
            spent += spent / e
            rec[3, e] = spent
            continue
        for g in opt.param_groups:
            g["lr"] = base_lr * lr_factor(cfg, e)
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(xt), generator=gen)
        total, count = 0.0, 0
        for i in range(0, len(xt), bs):
            idx = perm[i : i + bs]
            loss = loss_of(model(xt[idx]), yt[idx], train=True)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        spent += time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            out = model(xv)
            vl = float(loss_of(out, yv))
            acc = float("nan") if regress else float((out.argmax(1) == yv).float().mean())
        tl = total / count
        ok = np.isfinite(tl) and np.isfinite(vl)
        rec[:, e] = [acc, vl if ok else np.nan, tl if ok else np.nan, spent]
        if not ok:
            diverged = True
            if not regress and not np.isfinite(acc):
                rec[0, e] = 0.0
    return rec


def _config(table: Table, idx: tuple[int, ...]) -> dict[str, Any]:
    return {p: table.params[p].values[i] for p, i in zip(table.params, idx, strict=True)}


def record(table: Table, *, quiet: bool = False) -> Path:
    import torch

    torch.set_num_threads(1)
    combos = grid(table)
    n = len(combos)
    s1 = seed1_rows(n)
    jobs = [(i, 0) for i in range(n)] + [(int(i), 1) for i in s1]
    prog = PROGRESS / f"{table.name}.npz"
    prog.parent.mkdir(parents=True, exist_ok=True)
    if prog.exists():
        z = np.load(prog)
        curves, done = z["curves"], z["done"]
    else:
        curves = np.full((len(jobs), 4, EPOCHS), np.nan)
        done = np.zeros(len(jobs), dtype=bool)
    data = data_of(table)
    last_save = time.time()
    t_start = time.time()
    for j, (i, seed) in enumerate(jobs):
        if done[j]:
            continue
        # the seed is the same for every configuration: seed 0 (or 1) as in digits-mlp
        curves[j] = train_curve(table, _config(table, combos[i]), data, seed)
        done[j] = True
        if time.time() - last_save > SAVE_EVERY_S or j == len(jobs) - 1:
            _save_progress(prog, curves, done)
            last_save = time.time()
            if not quiet:
                el = time.time() - t_start
                print(f"{table.name}: {int(done.sum())}/{len(jobs)} ({el:.0f}s)", flush=True)
    _save_progress(prog, curves, done)
    return write_table(table, combos, s1, curves)


def _save_progress(prog: Path, curves: np.ndarray, done: np.ndarray) -> None:
    tmp = prog.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, curves=curves, done=done)
    tmp.replace(prog)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    ok = np.isfinite(a) & np.isfinite(b)
    return float(spearmanr(a[ok], b[ok]).statistic)


def write_table(
    table: Table,
    combos: list[tuple[int, ...]],
    s1: np.ndarray,
    curves: np.ndarray,
    data_dir: Path = DATA,
) -> Path:
    n = len(combos)
    names = ["val_acc", "val_loss", "train_loss", "train_time"]
    if table.task == "regress":
        names = names[1:]
    col = {"val_acc": 0, "val_loss": 1, "train_loss": 2, "train_time": 3}
    arrays: dict[str, np.ndarray] = {}
    idx = np.array(combos, dtype=np.int8)
    for k, (p, spec) in enumerate(table.params.items()):
        arrays[f"cfg_{p}"] = np.array([spec.values[i] for i in idx[:, k]])
        arrays[f"idx_{p}"] = idx[:, k]
    for a in names:
        arrays[a] = curves[:n, col[a]].astype(np.float32)
        arrays[f"seed1_{a}"] = curves[n:, col[a]].astype(np.float32)
    arrays["seed1_idx"] = s1
    obj = arrays[table.objective]
    sign = 1.0 if table.goal == "maximize" else -1.0
    final = obj[:, -1].astype(float)
    cost = float(curves[:, 3, -1].sum())
    noise = np.abs(arrays[f"seed1_{table.objective}"][:, -1] - final[s1])
    best = float(np.nanmax(sign * final) * sign)
    meta = {
        "name": table.name,
        "n_configs": n,
        "epochs": EPOCHS,
        "dataset": f"sklearn.datasets.load_{table.dataset}",
        "split": table.split,
        **({"label_noise": table.extra["label_noise"]} if "label_noise" in table.extra else {}),
        "objective": {"name": table.objective, "goal": table.goal},
        "fidelity": {"name": "epoch", "min": 1, "max": EPOCHS},
        "model": table.model,
        "note": table.note,
        "batch_size": table.batch_size,
        "heldout": table.heldout,
        "params": {
            p: {"type": s.kind, "log": s.log, "values": s.values} for p, s in table.params.items()
        },
        "stats": {
            "spearman_epoch1_final": round(spearman(obj[:, 0], final), 4),
            "spearman_epoch3_final": round(spearman(obj[:, 2], final), 4),
            "spearman_epoch10_final": round(spearman(obj[:, 9], final), 4),
            "best_final": best,
            "median_final": float(np.nanmedian(final)),
            "diverged_configs": int(np.sum(~np.isfinite(final))),
            "seed_noise_median_abs_final": float(np.nanmedian(noise)),
            "recording_cost_s": round(cost, 1),
        },
        "arrays": {
            "/".join(names): "[n_configs, epochs], seed 0; train_time cumulative seconds",
            "seed1_*": "same for configs seed1_idx trained with seed 1",
            "cfg_<p>": "value",
            "idx_<p>": "index in values",
        },
    }
    out = data_dir / table.path
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(str(out) + ".npz", **arrays)
    Path(str(out) + ".json").write_text(json.dumps(meta, indent=1) + "\n")
    return out


def summary() -> str:
    """A markdown table of every recorded table's size, objective and statistics."""
    rows = [
        "| table | model / data | configs | grid | objective | Spearman ep1 / ep3 / ep10 vs 30 "
        "| best / median final | diverged | seed noise | recording cost |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in TABLES.values():
        path = DATA / f"{t.path}.json"
        if not path.exists():
            continue
        m = json.loads(path.read_text())
        st = m["stats"]
        grid_s = " x ".join(f"{p} {len(v['values'])}" for p, v in m["params"].items())
        sp = " / ".join(f"{st[f'spearman_epoch{e}_final']:.2f}" for e in (1, 3, 10))
        rows.append(
            f"| {t.path} | {t.model} / {t.dataset} | {m['n_configs']} | {grid_s} "
            f"| {t.objective} ({t.goal}) | {sp} "
            f"| {st['best_final']:.4f} / {st['median_final']:.4f} | {st['diverged_configs']} "
            f"| {st['seed_noise_median_abs_final']:.4f} | {st['recording_cost_s']:.0f} s |"
        )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", action="append", default=[], help="a table to record")
    ap.add_argument("--all", action="store_true", help="record every table")
    ap.add_argument("--list", action="store_true", help="list the tables and their sizes")
    ap.add_argument("--summary", action="store_true", help="markdown table of the recorded ones")
    a = ap.parse_args()
    if a.summary:
        print(summary())
        return
    if a.list:
        for t in TABLES.values():
            prog = PROGRESS / f"{t.name}.npz"
            state = "recorded" if (DATA / (t.path + ".npz")).exists() else "not recorded"
            if prog.exists() and state == "not recorded":
                z = np.load(prog)
                state = f"in progress {int(z['done'].sum())}/{len(z['done'])}"
            print(f"{t.path:24s} {len(grid(t)):4d} configs  {t.model:10s} {t.dataset:14s} {state}")
        return
    names = list(TABLES) if a.all else a.table
    for name in names:
        if name not in TABLES:
            sys.exit(f"--table: unknown {name!r}; known: {', '.join(TABLES)}")
    for name in names:
        out = record(TABLES[name])
        meta = json.loads(Path(str(out) + ".json").read_text())
        print(f"wrote {out}.npz: {meta['n_configs']} configs, stats {meta['stats']}", flush=True)


if __name__ == "__main__":
    main()
