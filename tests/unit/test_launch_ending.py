"""What a launch says when it has nothing to run."""

from __future__ import annotations

import tunehooks as th
from tunehooks.launch.ending import nothing_to_run
from tunehooks.launch.sweep import parse_sweep


def _sweep(parameters: dict) -> object:
    return parse_sweep(
        {
            "name": "demo",
            "program": "train.py",
            "method": "bayes",
            "metric": {"name": "acc", "goal": "maximize"},
            "parameters": parameters,
            "run_cap": 50,
        }
    )


def _done(configs: list[dict]) -> list[th.TrialRecord]:
    return [
        th.TrialRecord(i, i, th.TrialState.COMPLETED, c, values={"acc": 0.5})
        for i, c in enumerate(configs)
    ]


def test_a_fully_tried_finite_space_says_so_instead_of_asking_for_more_budget():
    sweep = _sweep({"opt": {"values": ["sgd", "adam"]}, "depth": {"values": [1, 2]}})
    configs = [{"opt": o, "depth": d} for o in ("sgd", "adam") for d in (1, 2)]
    text = nothing_to_run(_done(configs), sweep)
    assert text.startswith("nothing to run: every one of the space's 4 configurations was tried")
    assert "budget" not in text and "parameters" in text
    # a failed one among them: the way to run it again is still named
    failed = _done(configs)
    failed[0] = th.TrialRecord(0, 0, th.TrialState.FAILED, configs[0])
    assert "--retry-failed` runs the 1 failed trial again" in nothing_to_run(failed, sweep)
    # one configuration short: the budget is what ended it
    assert "the budget is spent" in nothing_to_run(_done(configs[:3]), sweep)


def test_a_continuous_space_is_never_called_exhausted():
    sweep = _sweep({"lr": {"distribution": "uniform", "min": 0.0, "max": 1.0}})
    text = nothing_to_run(_done([{"lr": 0.5}]), sweep)
    assert text.startswith("nothing to run: the budget is spent (1 completed")
