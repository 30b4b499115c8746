"""Eight workers asking the GP optimizer at the same moment get distinct suggestions.

Each worker is its own process with its own :class:`tunehooks.Experiment` loaded from
one shared SQLite file, as a user's workers on one machine are; a barrier makes them
ask at the same moment. The trials they start stay RUNNING (pending for each other).
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import numpy as np
import pytest

import tunehooks as th
from tunehooks.optimizers.gp import GPOptimizer, SpaceEncoder

SPACE = th.SearchSpace(
    {
        "lr": th.Float(1e-5, 1e-1, log=True),
        "dropout": th.Float(0.0, 0.5),
        "width": th.Int(16, 256, power_of_two=True),
        "opt": th.Categorical(["sgd", "adam", "rmsprop"]),
    }
)
METRICS = [th.Metric("loss", goal="minimize")]
WORKERS = 8


def loss(p: dict[str, Any]) -> float:
    lr = np.log10(p["lr"])
    return (
        float((lr + 3.0) ** 2 + (p["dropout"] - 0.2) ** 2 + 0.1 * (np.log2(p["width"]) - 6) ** 2)
        + {"sgd": 0.3, "adam": 0.0, "rmsprop": 0.1}[p["opt"]]
    )


def _worker(url: str, barrier: Any, out: Any) -> None:
    exp = th.Experiment.load("par8", storage=url)
    _ = exp.optimizer  # import and build before the barrier: the asks start together
    barrier.wait(timeout=120)
    trial = exp.ask()
    out.put(None if trial is None else dict(trial.params))


def min_pairwise_distance(configs: list[dict[str, Any]]) -> float:
    """Smallest Euclidean distance between two configurations, in the GP's features."""
    enc = SpaceEncoder(SPACE)
    X = enc.canonicalize(enc.encode(configs))
    d = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    return float(d[np.triu_indices(len(X), 1)].min())


@pytest.mark.slow
def test_eight_workers_asking_at_once_get_distinct_suggestions(storage_url: str) -> None:
    exp = th.Experiment.create(
        "par8",
        SPACE,
        metrics=METRICS,
        budget=th.Budget(trials=40),
        storage=storage_url,
        method="bayes",
        seed=0,
    )
    for _ in range(10):  # past the initial design: the GP proposes
        t = exp.ask()
        assert t is not None
        t.complete({"loss": loss(t.params)})
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(storage_url, barrier, out)) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    asked = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(a is not None for a in asked)
    assert len({tuple(sorted(a.items())) for a in asked}) == WORKERS
    minimum = GPOptimizer(SPACE, METRICS).min_distance
    assert min_pairwise_distance(asked) >= minimum
    counts = th.Experiment.load("par8", storage=storage_url).count_trials()
    assert counts[th.TrialState.RUNNING] == WORKERS
