"""A suggestion the search space rejects is logged before a random one replaces it."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

import tunehooks as th
from tunehooks.optimizers.gp import GPOptimizer

BOX = th.SearchSpace({"x0": th.Float(0.0, 1.0), "x1": th.Float(0.0, 1.0)})


def test_a_rejected_candidate_is_logged_and_replaced_by_a_valid_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    history = [
        th.TrialRecord(
            id=i + 1,
            number=i,
            state=th.TrialState.COMPLETED,
            params=p,
            values={"y": float(p["x0"] + p["x1"])},
        )
        for i, p in enumerate(BOX.sample(6, rng=np.random.default_rng(0)))
    ]
    opt = GPOptimizer(BOX, [th.Metric("y", goal="minimize")], n_initial=2, random_fraction=0.0)

    def outside(x: Any) -> list[dict[str, Any]]:  # a decoder out of step with the space
        return [{"x0": 5.0, "x1": 0.5}]

    monkeypatch.setattr(opt.encoder, "decode", outside)
    with caplog.at_level(logging.WARNING, logger="tunehooks"):
        s = opt.suggest(history)
    assert s is not None
    assert BOX.validate(s.params) == s.params  # the replacement is a valid configuration
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "x0" in warnings[0].getMessage()
    assert "random" in warnings[0].getMessage()
