"""The simulated backend drives a real experiment (SQLite, scheduler, optimizer)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tunehooks as th
from tunehooks.metrics import Goal
from tunehooks.simulate import LearningCurves, simulate
from tunehooks.trial import TrialState

BENCH_DATA = Path(__file__).resolve().parents[2] / "bench" / "data"
DATA = BENCH_DATA / "digits-mlp"
# the tables recorded by bench/multifidelity/record.py (their JSON names the objective)
TABLES = sorted(
    p.with_suffix("")
    for p in BENCH_DATA.rglob("*.json")
    if isinstance(json.loads(p.read_text()).get("objective"), dict)
)


def toy(n_epochs: int = 9) -> LearningCurves:
    # 3 x 4 grid; curve i rises to a plateau q_i, the best is row 0
    configs = np.array([[a, b] for a in range(3) for b in range(4)])
    q = np.linspace(0.95, 0.2, len(configs))
    e = np.arange(1, n_epochs + 1)
    curves = q[:, None] * (1 - 0.6 ** e[None, :])
    return LearningCurves({"a": [1, 2, 3], "b": ["w", "x", "y", "z"]}, configs, curves)


def test_table_maps_configurations_to_rows():
    lc = toy()
    space = lc.space()
    assert space.names == ["a", "b"]
    rows = {lc.row(c) for c in space.grid(points=10)}
    assert rows == set(range(12))
    with pytest.raises(KeyError, match="not in the table"):
        lc.row({"a": 7, "b": "w"})


def test_digits_table_loads_from_the_project():
    lc = LearningCurves.load(DATA)
    assert len(lc) == 810 and lc.epochs == 30
    assert lc.best_final() == pytest.approx(0.98333, abs=1e-4)
    assert lc.epoch_time is not None and (lc.epoch_time > 0).all()
    cfg = lc.space().sample(1, rng=np.random.default_rng(0))[0]
    assert 0 <= lc.row(cfg) < 810


def _write_table(base: Path, objective: object) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "idx_lr": np.array([0, 1, 2], dtype=np.int8),
        "cfg_lr": np.array([0.1, 0.01, 0.001]),
        "val_acc": rng.uniform(size=(3, 4)).astype(np.float32),
        "val_loss": np.array([[3, 2, 1, 0.5], [3, 3, 3, 3], [2, 1, 1, 0.9]], dtype=np.float32),
        "train_time": np.cumsum(np.ones((3, 4)), axis=1).astype(np.float32),
    }
    np.savez(str(base) + ".npz", **arrays)
    meta: dict[str, object] = {"params": {"lr": {"type": "float", "values": [0.1, 0.01, 0.001]}}}
    if objective is not None:
        meta["objective"] = objective
    Path(str(base) + ".json").write_text(json.dumps(meta))


def test_table_json_names_its_objective(tmp_path):
    _write_table(tmp_path / "t", {"name": "val_loss", "goal": "minimize"})
    lc = LearningCurves.load(tmp_path / "t")
    assert lc.metric == "val_loss" and lc.goal is Goal.MINIMIZE
    assert lc.objective().goal is Goal.MINIMIZE
    assert lc.final(0) == 0.5 and lc.best_final() == 0.5


def test_table_without_an_objective_object_is_val_acc_maximized(tmp_path):
    _write_table(tmp_path / "t", "val_acc (maximize)")
    lc = LearningCurves.load(tmp_path / "t")
    assert lc.metric == "val_acc" and lc.goal is Goal.MAXIMIZE
    assert LearningCurves.load(DATA).metric == "val_acc"


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        ({"name": "val_r2", "goal": "maximize"}, "objective.name 'val_r2'"),
        ({"name": "val_loss", "goal": "lower"}, "objective.goal 'lower'"),
    ],
)
def test_table_with_a_bad_objective_names_the_field(tmp_path, objective, message):
    _write_table(tmp_path / "t", objective)
    with pytest.raises(ValueError, match=message):
        LearningCurves.load(tmp_path / "t")


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_recorded_tables_load_with_their_objective(path):
    meta = json.loads(path.with_suffix(".json").read_text())
    lc = LearningCurves.load(path)
    assert len(lc) == meta["n_configs"] and lc.epochs == meta["epochs"] == 30
    assert lc.metric == meta["objective"]["name"]
    assert lc.goal.value == meta["objective"]["goal"]
    assert lc.best_final() == pytest.approx(meta["stats"]["best_final"], rel=1e-5)
    assert lc.epoch_time is not None and (lc.epoch_time > 0).all()
    assert lc.row(lc.space().sample(1, rng=np.random.default_rng(0))[0]) < len(lc)


@pytest.mark.parametrize("workers", [1, 4])
def test_asha_simulation_prunes_and_keeps_curves(workers, storage_url):
    lc = toy()
    exp = th.Experiment.create(
        f"sim-{workers}",
        lc.space(),
        metrics=[lc.objective()],
        budget=th.Budget(trials=12),
        storage=storage_url,
        method="grid",
        fidelity=th.Fidelity(min=1, max=9, eta=3, scheduler="asha"),
    )
    res = simulate(exp, lc, workers=workers, use_time=False)
    trials = exp.get_trials()
    assert len(trials) == 12 and all(t.state.is_finished for t in trials)
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    assert pruned and all(len(t.reports) < 9 for t in pruned)
    assert res.total_epochs == sum(len(t.reports) for t in trials) < 12 * 9
    # the best row is completed and becomes the incumbent
    assert res.incumbent_at(res.total_epochs) == pytest.approx(lc.final(0))
    assert exp.best is not None and lc.row(exp.best.params) == 0
    # simulated time: with 4 workers, 4 trials run at once
    times = [e.time for e in res.events]
    assert times == sorted(times)
    assert len({e.trial for e in res.events if e.time <= 1.0}) == workers


def test_max_epochs_ends_the_simulation_and_fails_running_trials(storage_url):
    lc = toy()
    exp = th.Experiment.create(
        "sim-cap",
        lc.space(),
        metrics=[lc.objective()],
        budget=th.Budget(trials=12),
        storage=storage_url,
        method="random",
        seed=2,
    )
    res = simulate(exp, lc, workers=3, max_epochs=20, use_time=False)
    assert res.total_epochs == 20
    states = [t.state for t in exp.get_trials()]
    assert TrialState.FAILED in states and TrialState.RUNNING not in states
    assert res.epochs_to_reach(2.0) is None


def test_task_fidelity_trains_that_fraction(storage_url):
    lc = toy(n_epochs=10)
    exp = th.Experiment.create(
        "sim-tasks",
        lc.space(),
        metrics=[lc.objective()],
        budget=th.Budget(trials=4),
        storage=storage_url,
        method="random",
        fidelity=th.Fidelity(tasks=[th.fidelity.Task("short", 0.2), th.fidelity.Task("full", 1)]),
    )
    exp.enqueue({"a": 0, "b": "w"}, fidelity=0.2)
    simulate(exp, lc, workers=1, use_time=False)
    first = exp.get_trials()[0]
    assert first.fidelity == 0.2 and len(first.reports) == 2
    assert exp.trial_cost(first) == pytest.approx(0.2)
