"""Experiments for the analysis tests, built with the real ask/tell on a SQLite file."""

from __future__ import annotations

import math

import pytest

import tunehooks as th


def make_space() -> th.SearchSpace:
    return th.SearchSpace(
        {
            "lr": th.Float(1e-4, 1.0, log=True),
            "width": th.Int(8, 128, log=True),
            "opt": th.Categorical(["sgd", "adam"]),
            "momentum": th.Float(0.0, 0.99, condition={"opt": ["sgd"]}),
            "seed": th.Constant(0),
        }
    )


def _run(trial: th.Trial, acc: float, ms: float, epochs: int) -> None:
    for ep in range(1, epochs + 1):
        trial.report(ep, {"acc": acc * (1 - 0.5**ep), "ms": ms})
    trial.complete({"acc": acc, "ms": ms})


@pytest.fixture
def scripted(storage_url: str) -> th.Experiment:
    """Eight trials with known outcomes (fidelity max 4 epochs):

    0 completed acc .80 ms 10 (4 epochs)     4 completed acc .83 ms 20 (4 epochs)
    1 completed acc .85 ms 60: violates ms   5 enqueued at fidelity 2: acc .95, low fidelity
    2 pruned after 2 epochs                  6 completed acc .90 ms 30 (4 epochs)
    3 failed without reports                 7 running, 1 epoch reported
    """
    exp = th.Experiment.create(
        "scripted",
        make_space(),
        metrics=[
            th.Metric("acc", goal="maximize"),
            th.Metric("ms", goal="minimize", strategy="constraint", threshold=50),
        ],
        budget=th.Budget(trials=8),
        storage=storage_url,
        method="random",
        fidelity=th.Fidelity(max=4, min=1, scheduler="none"),
        seed=3,
    )
    t = exp.ask()
    _run(t, 0.80, 10, 4)
    _run(exp.ask(), 0.85, 60, 4)
    t = exp.ask()
    t.report(1, {"acc": 0.3, "ms": 10})
    t.report(2, {"acc": 0.5, "ms": 10})
    t.prune()
    exp.ask().fail("RuntimeError: CUDA out of memory")
    _run(exp.ask(), 0.83, 20, 4)
    exp.enqueue({"lr": 0.01, "width": 32, "opt": "adam", "seed": 0}, fidelity=2)
    t = exp.ask()
    assert t.fidelity == 2
    _run(t, 0.95, 5, 2)
    _run(exp.ask(), 0.90, 30, 4)
    t = exp.ask()
    t.report(1, {"acc": 0.4, "ms": 10})
    return exp


@pytest.fixture
def space() -> th.SearchSpace:
    """lr (log), width (log int), opt (categorical), momentum (only for sgd), seed (constant)."""
    return make_space()


def lr_only(lr: float) -> float:
    """A synthetic objective that depends on the learning rate alone."""
    return (math.log10(lr) + 2.0) ** 2


@pytest.fixture
def lr_sweep(storage_url: str) -> th.Experiment:
    """40 Sobol trials of an objective depending only on lr, with reports (5 epochs); every
    fifth trial pruned after 2 epochs, trials 7 and 23 failed."""
    exp = th.Experiment.create(
        "lr-only",
        make_space(),
        metrics=[th.Metric("loss", goal="minimize"), th.Metric("ms", goal="minimize")],
        budget=th.Budget(trials=40),
        storage=storage_url,
        method="sobol",
        seed=0,
    )
    for i, trial in enumerate(exp.ask_loop()):
        final = lr_only(trial.params["lr"])
        if i in (7, 23):
            trial.fail("diverged")
            continue
        for ep in range(1, 6):
            trial.report(ep, {"loss": final + 1.0 / ep, "ms": float(trial.params["width"])})
            if i % 5 == 4 and ep == 2:
                trial.prune()
                break
        else:
            trial.complete({"loss": final, "ms": float(trial.params["width"])})
    return exp
