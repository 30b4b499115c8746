"""The multi-fidelity benchmark's harness: tables written as LearningCurves reads them,
resumed trials pay only their new epochs, points for a minimized loss."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

MF = Path(__file__).resolve().parents[2] / "bench" / "multifidelity"
sys.path.insert(0, str(MF))
# bench/blackbox has a score.py too (tests/unit/test_bench_problems.py puts it on sys.path)
if Path(getattr(sys.modules.get("score"), "__file__", "") or "").parent not in (MF, Path()):
    del sys.modules["score"]

import peers  # noqa: E402 (after the sys.path set-up)
import record  # noqa: E402 (after the sys.path set-up)
import score  # noqa: E402 (after the sys.path set-up)
from tables import TABLES, data_of  # noqa: E402 (after the sys.path set-up)

from tunehooks.metrics import Goal  # noqa: E402 (after the sys.path set-up)
from tunehooks.simulate import LearningCurves  # noqa: E402 (after the sys.path set-up)


def test_recorded_curve_is_real_training_with_cumulative_time():
    table = TABLES["wine-logreg"]
    cfg = {"lr": 0.01, "batch_size": 16, "weight_decay": 0.0, "momentum": 0.9}
    curve = record.train_curve(table, cfg, data_of(table), seed=0)
    acc, loss, train_loss, spent = curve
    assert curve.shape == (4, 30)
    assert np.all(np.diff(spent) > 0)
    assert loss[-1] < loss[0] and train_loss[-1] < train_loss[0]  # it learns
    assert 0.8 < acc[-1] <= 1.0


def test_written_table_loads_with_its_objective(tmp_path):
    table = TABLES["diabetes-reg"]
    combos = record.grid(table)
    rng = np.random.default_rng(0)
    s1 = record.seed1_rows(len(combos))
    curves = rng.uniform(0.4, 1.0, size=(len(combos) + len(s1), 4, 30))
    curves[:, 3] = np.cumsum(np.full((len(combos) + len(s1), 30), 0.01), axis=1)
    curves[5, 1, 10:] = np.nan  # diverged
    out = record.write_table(table, combos, s1, curves, data_dir=tmp_path)
    lc = LearningCurves.load(out)
    assert lc.metric == "val_loss" and lc.goal is Goal.MINIMIZE
    assert len(lc) == len(combos) == json.loads(out.with_suffix(".json").read_text())["n_configs"]
    assert lc.best_final() == pytest.approx(np.nanmin(curves[: len(combos), 1, -1]), rel=1e-6)
    z = np.load(str(out) + ".npz")
    assert "val_acc" not in z.files and z["seed1_val_loss"].shape == (len(s1), 30)


class _PauseAtThree:
    """Starts each configuration to epoch 3 and pauses it; then resumes every paused one to 30."""

    def __init__(self, table: peers.Table) -> None:
        self.todo = list(table.index)[:4]
        self.paused: list[int] = []
        self.table = table
        self.resumed: set[int] = set()

    def ask(self):
        if self.todo:
            key = self.todo.pop(0)
            cfg = {p: i for p, i in zip(self.table.names, key, strict=True)}
            return key, cfg, 3
        if self.paused:
            key = self.paused.pop(0)
            self.resumed.add(key)
            return key, {}, 30
        return None

    def report(self, key, epoch, value):
        if epoch == 3 and key not in self.resumed:
            self.paused.append(key)
            return peers.Decision.PAUSE
        return peers.Decision.CONTINUE

    def finish(self, key, epoch, value):
        pass

    def fail(self, key):
        pass


@pytest.mark.parametrize("workers", [1, 4])
def test_a_resumed_trial_pays_only_its_new_epochs(tmp_path, workers):
    n = 6
    arrays = {
        "idx_a": np.arange(n, dtype=np.int8),
        "cfg_a": np.arange(n, dtype=float),
        "val_acc": np.tile(np.linspace(0.1, 0.5, 30), (n, 1)) + np.arange(n)[:, None] / 100,
        "train_time": np.cumsum(np.ones((n, 30)), axis=1),
    }
    np.savez(tmp_path / "t.npz", **arrays)
    (tmp_path / "t.json").write_text(json.dumps({"params": {"a": {"values": list(range(n))}}}))
    table = peers.Table(tmp_path / "t")
    res = peers.simulate(_PauseAtThree(table), table, workers, max_epochs=10_000)
    # 4 configurations x 3 epochs, then each resumed from epoch 4 to 30: 4 x 30 in all
    assert res["total_epochs"] == 4 * 30 and res["resumes"] == 4
    assert res["trace"][-1][1] == pytest.approx(arrays["val_acc"][3, -1])


def test_points_of_a_minimized_loss_are_a_tenth_of_the_best_to_median_gap():
    sc = score.Scale("diabetes-reg")
    assert sc.sign == -1.0
    z = np.load(score.DATA / "diabetes-reg.npz")["val_loss"][:, -1]
    z = z[np.isfinite(z)]
    assert sc.point == pytest.approx((np.median(z) - z.min()) / 10, rel=1e-6)
    assert sc.regret(sc.best + 0.5 * sc.point) == pytest.approx(0.5)
    trace = [[10, sc.best + 3 * sc.point], [50, sc.best + 0.4 * sc.point]]
    assert score.epochs_to(trace, sc, 1.0) == 50 and score.incumbent_at(trace, 20) == trace[0][1]


def test_a_fresh_clone_restores_the_committed_traces_before_rewriting_them(tmp_path, monkeypatch):
    """write_raw rebuilds the raw file from the cache alone: a new run on a clone without the
    cache must not drop the other methods' committed traces."""
    raw = {
        "peer": {"w1": {"0": {"trace": [[3, 0.5], [9, 0.75]], "total_epochs": 40}}},
        "ours": {"w4": {"2": {"trace": [[1, 0.25]], "total_epochs": 7}}},
    }
    results, cache = tmp_path / "results", tmp_path / "cache"
    (results / "raw").mkdir(parents=True)
    raw_file = results / "raw" / "heldout-t-e1000.json"
    raw_file.write_text(json.dumps(raw))
    monkeypatch.setattr(score, "RESULTS", results)
    monkeypatch.setattr(score, "CACHE", cache)
    assert score.restore_cache("heldout/t", 1000) == 2
    assert score.restore_cache("heldout/t", 1000) == 0  # what is cached is left alone
    raw["peer"]["w1"]["0"]["total_epochs"] = 41  # the committed file changed (a merge)
    raw_file.write_text(json.dumps(raw))
    assert score.restore_cache("heldout/t", 1000) == 1
    own = cache / "heldout/t" / "ours" / "e1000-w4-s2.json"
    own.write_text(json.dumps({"trace": [[1, 0.5]], "total_epochs": 7}))  # run here
    assert score.restore_cache("heldout/t", 1000) == 0
    own.write_text(json.dumps({**raw["ours"]["w4"]["2"], "restored": True, "max_epochs": 1000}))
    assert score.load_runs("heldout/t", "peer", 1, 1000)[0]["trace"] == [[3, 0.5], [9, 0.75]]
    score.write_raw("heldout/t", {"peer": "", "ours": ""}, [1, 4], 1000)
    assert json.loads(raw_file.read_text()) == raw


def test_the_target_choice_prefers_the_candidate_under_the_best_peer_on_every_other_table():
    """loto.py --target: the fewest tables above the best peer first, the mean log-ratio
    to the best candidate only between candidates that tie on that."""
    import loto

    med = {  # (table, variant): (median epochs to 0.5 point, to 1 point, seeds)
        ("a", "tunehooks-x"): (50, 0, 30),
        ("b", "tunehooks-x"): (50, 0, 30),
        ("c", "tunehooks-x"): (120, 0, 30),
        ("a", "tunehooks-y"): (90, 0, 30),
        ("b", "tunehooks-y"): (90, 0, 30),
        ("c", "tunehooks-y"): (90, 0, 30),
        ("a", "peer"): (100, 0, 30),
        ("b", "peer"): (100, 0, 30),
        ("c", "peer"): (100, 0, 30),
    }
    candidates = ["tunehooks-x", "tunehooks-y"]
    tables = ["a", "b", "c"]
    # by the mean log-ratio alone x wins every fold (twice 50 against 90)
    assert [loto.choose(med, tables, candidates, t) for t in tables] == ["tunehooks-x"] * 3
    # by the target, y (under the peer everywhere) wins the folds that see table c
    picks = [loto.choose(med, tables, candidates, t, ["peer"]) for t in tables]
    assert picks == ["tunehooks-y", "tunehooks-y", "tunehooks-x"]
    assert loto.is_peer("peer") and not loto.is_peer("tunehooks-y")
