from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import tunehooks as th
from tunehooks.optimizers import make_optimizer

SPACE = th.SearchSpace(
    {
        "x": th.Float(0.0, 1.0),
        "n": th.Int(1, 3),
        "opt": th.Categorical(["sgd", "adam"]),
        "m": th.Float(0.0, 0.9, condition={"opt": ["sgd"]}),
    }
)
METRICS = [th.Metric("y", goal="minimize")]


def run(storage_url: str, method: str, n: int, seed: int = 0, name: str = "e") -> list[dict]:
    exp = th.Experiment.create(
        name,
        SPACE,
        metrics=METRICS,
        budget=th.Budget(trials=n),
        storage=storage_url,
        method=method,
        seed=seed,
    )
    out = []
    for trial in exp.ask_loop():
        out.append(trial.params)
        trial.complete({"y": trial.params["x"]})
    return out


@pytest.mark.parametrize("method", ["random", "sobol"])
def test_same_seed_same_sequence_other_seed_differs(tmp_path, method: str) -> None:
    a = run(f"sqlite:///{tmp_path / 'a.db'}", method, 8, seed=3)
    b = run(f"sqlite:///{tmp_path / 'b.db'}", method, 8, seed=3)
    c = run(f"sqlite:///{tmp_path / 'c.db'}", method, 8, seed=4)
    assert a == b and a != c


def test_suggestion_is_reproducible_in_another_process(storage_url: str) -> None:
    run(storage_url, "random", 3, seed=7)
    exp = th.Experiment.load("e", storage=storage_url)
    here = exp.optimizer.suggest(exp.get_trials())
    code = (
        "import sys, tunehooks as th\n"
        "e = th.Experiment.load('e', storage=sys.argv[1])\n"
        "print(e.optimizer.suggest(e.get_trials()).params)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, storage_url], capture_output=True, text=True, check=True
    )
    assert here is not None and out.stdout.strip() == str(here.params)


def test_sobol_covers_the_cube_better_than_random() -> None:
    opt = make_optimizer("sobol", th.SearchSpace({"x": th.Float(0, 1)}), METRICS, seed=0)
    xs = []
    history: list[th.TrialRecord] = []
    for i in range(16):
        s = opt.suggest(history)
        assert s is not None
        xs.append(s.params["x"])
        history.append(th.TrialRecord(id=i, number=i, state=th.TrialState.RUNNING, params=s.params))
    counts = np.histogram(xs, bins=8, range=(0, 1))[0]
    assert counts.tolist() == [2] * 8  # a scrambled Sobol sequence fills every bin evenly


def test_grid_visits_each_config_once_then_stops(storage_url: str) -> None:
    space = th.SearchSpace(
        {
            "opt": th.Categorical(["sgd", "adam"]),
            "m": th.Float(0.0, 0.9, condition={"opt": ["sgd"]}),
            "n": th.Int(1, 2),
        }
    )
    exp = th.Experiment.create(
        "g",
        space,
        metrics=METRICS,
        storage=storage_url,
        method="grid",
        optimizer_options={"points": 3},
    )
    seen = []
    for trial in exp.ask_loop():
        seen.append(trial.params)
        trial.complete({"y": 0.0})
    assert len(seen) == 8 and len({repr(sorted(p.items())) for p in seen}) == 8
    assert all(("m" in p) == (p["opt"] == "sgd") for p in seen)


def test_pending_trials_get_distinct_random_suggestions(storage_url: str) -> None:
    exp = th.Experiment.create(
        "p",
        SPACE,
        metrics=METRICS,
        budget=th.Budget(trials=4),
        storage=storage_url,
        method="random",
    )
    trials = [exp.ask() for _ in range(4)]
    assert len({t.params["x"] for t in trials if t}) == 4
