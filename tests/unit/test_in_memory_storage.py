"""An in-memory database is one per process: a second experiment of the same name is a
clear error that says so (not a silent mix of two experiments)."""

from __future__ import annotations

import pytest

import tunehooks as th
from tunehooks.storage import DuplicateExperimentError

SPACE = th.SearchSpace({"x": th.Float(0.0, 1.0)})
METRICS = [th.Metric("y", goal="minimize")]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "memory://"])
def test_the_same_name_twice_in_one_process_names_the_fix(url: str) -> None:
    th.Experiment.create("twice", SPACE, metrics=METRICS, budget=th.Budget(trials=2), storage=url)
    with pytest.raises(DuplicateExperimentError) as e:
        th.Experiment.create(
            "twice", SPACE, metrics=METRICS, budget=th.Budget(trials=2), storage=url
        )
    message = str(e.value)
    assert "'twice' already exists" in message
    assert "one in-memory database per process" in message
    assert "its own name" in message
    assert "\n" not in message


def test_a_file_database_keeps_the_plain_message(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    th.Experiment.create("twice", SPACE, metrics=METRICS, budget=th.Budget(trials=2), storage=url)
    with pytest.raises(DuplicateExperimentError, match="already exists") as e:
        th.Experiment.create(
            "twice", SPACE, metrics=METRICS, budget=th.Budget(trials=2), storage=url
        )
    assert "in-memory" not in str(e.value)
