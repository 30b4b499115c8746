"""The in-memory backend passes the storage conformance suite, and open_storage picks it."""

from __future__ import annotations

import pytest

import tunehooks as th
from tunehooks.storage import open_storage
from tunehooks.storage.memory import MemoryStorage
from tunehooks.testing.storage_conformance import StorageConformance


class TestMemory(StorageConformance):
    @pytest.fixture
    def storage(self) -> MemoryStorage:
        return MemoryStorage()


def test_open_storage_dispatches_on_the_scheme() -> None:
    assert isinstance(open_storage("memory://one"), MemoryStorage)
    assert open_storage("memory://one") is open_storage("memory://one")
    assert open_storage("memory://two") is not open_storage("memory://one")
    assert type(open_storage("sqlite://")).__name__ == "SQLStorage"


def test_an_experiment_runs_on_the_memory_backend() -> None:
    space = th.SearchSpace({"x": th.Float(-2.0, 2.0)})
    exp = th.Experiment.create(
        "mem",
        space,
        metrics=[th.Metric("loss", goal="minimize")],
        budget=th.Budget(trials=4),
        storage="memory://test-run",
        method="random",
        seed=1,
    )
    for trial in exp.ask_loop():
        trial.report(1, {"loss": trial.params["x"] ** 2 + 1})
        trial.complete({"loss": trial.params["x"] ** 2})
    again = th.Experiment.load("mem", storage="memory://test-run")
    assert [t.state for t in again.get_trials()] == [th.TrialState.COMPLETED] * 4
    assert again.best is not None and again.get_trials()[0].reports[0].step == 1
