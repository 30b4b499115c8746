"""tunehooks' own methods in the multi-fidelity benchmark (a registry; run.py reads it).

``VARIANTS`` maps a method name to a function building the ``th.Experiment`` of
one run on a table: ``build(table, seed, workers, max_epochs)``; run.py then
drives it with ``tunehooks.simulate.simulate`` on the table's simulated clock.
The first line of a builder's docstring is its label in the results. A name that
starts with ``tunehooks`` is one of tunehooks' methods (compared against the
best peer); the others here (random search, random + ASHA, random + Hyperband)
are the classic baselines, run by tunehooks' implementation, and count as peers.

Add a variant by adding a function and an entry; run.py needs no change
(``run.py --methods tunehooks-mine``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Budget of the check (full-training equivalents; the epoch cap ends runs first)
BUDGET_COST = 3000


def _experiment(
    lc: Any, seed: int, workers: int, *, name: str, method: str, **fidelity: Any
) -> Any:
    import tunehooks as th

    return th.Experiment.create(
        f"{name}-{seed}-{workers}",
        lc.space(),
        metrics=[lc.objective()],
        budget=th.Budget(cost=BUDGET_COST),
        storage="sqlite://",
        method=method,
        seed=seed,
        fidelity=th.Fidelity(min=1, max=lc.epochs, eta=3, **fidelity),
    )


def tunehooks_default(lc: Any, seed: int, workers: int, max_epochs: int) -> Any:
    """tunehooks default (bayes + Fidelity(min=1, max=30, eta=3), default scheduler)"""
    return _experiment(lc, seed, workers, name="tunehooks", method="bayes")


def random_full(lc: Any, seed: int, workers: int, max_epochs: int) -> Any:
    """random search, full fidelity"""
    return _experiment(lc, seed, workers, name="random", method="random", scheduler="none")


def random_asha(lc: Any, seed: int, workers: int, max_epochs: int) -> Any:
    """random + ASHA (tunehooks' ASHA, stopping type)"""
    return _experiment(lc, seed, workers, name="random-asha", method="random", scheduler="asha")


def random_hyperband(lc: Any, seed: int, workers: int, max_epochs: int) -> Any:
    """random + Hyperband (tunehooks' Hyperband)"""
    return _experiment(lc, seed, workers, name="hyperband", method="random", scheduler="hyperband")


NOTE = (
    "How tunehooks' default was chosen (leave-one-table-out, bench/results/multifidelity/"
    "selection.md): three candidates (model-guided ASHA, model-guided asynchronous Hyperband, "
    "model-guided synchronous Hyperband in promotion mode) were run on six tables (breast-mlp, "
    "digits-cnn, digits-gru, digits-mlp, digits-sched, wine-logreg; 8 seeds, 1 worker); for each "
    "table the candidate best on the other five was model-guided ASHA, so the default stayed. "
    "No setting was tuned on diabetes-reg, digits-noisy (recorded after the choice) or the held-out "
    "digits-attn. The numbers here are the merged revision's (10 seeds)."
)

VARIANTS: dict[str, Callable[[Any, int, int, int], Any]] = {
    "tunehooks": tunehooks_default,
    "random": random_full,
    "random-asha": random_asha,
    "hyperband": random_hyperband,
}


def label(name: str) -> str:
    doc = VARIANTS[name].__doc__ or name
    return doc.strip().splitlines()[0]
