"""One rule for non-finite values, whichever entry point a report comes through."""

from __future__ import annotations

import itertools
import math

import pytest

import tunehooks as th
from tunehooks.integrations._common import Reporter

_names = itertools.count()


def _experiment(name: str) -> th.Experiment:
    return th.Experiment.create(
        f"{name}-{next(_names)}",
        th.SearchSpace({"x": th.Float(0.0, 1.0)}),
        metrics=[th.Metric("acc", goal="maximize"), th.Metric("loss", strategy="store")],
        budget=th.Budget(trials=1),
        storage="sqlite://",
        method="random",
        seed=0,
    )


def _through_the_trial(metrics: dict[str, float]) -> tuple[object, ...]:
    trial = _experiment("direct").ask()
    assert trial is not None
    trial.report(1, {"acc": 0.5, "loss": 0.7})
    decision = trial.report(2, metrics)
    rec = trial.refresh()
    return decision, rec.state, [r.step for r in rec.reports], "diverged" in (rec.error or "")


def _through_the_reporter(metrics: dict[str, float]) -> tuple[object, ...]:
    rep = Reporter(_experiment("integration"))
    rep.report(1, {"acc": 0.5, "loss": 0.7})
    decision = rep.report(2, metrics)
    rec = rep.trial.refresh()
    return decision, rec.state, [r.step for r in rec.reports], "diverged" in (rec.error or "")


@pytest.mark.parametrize(
    "metrics",
    [
        {"acc": math.nan, "loss": 0.1},  # the optimized metric
        {"acc": 0.5, "loss": math.nan},  # a stored one: a diverged training's loss
        {"acc": 0.5, "loss": math.inf},
    ],
    ids=["optimized-nan", "stored-nan", "stored-inf"],
)
def test_the_same_report_has_the_same_outcome_through_either_entry_point(
    metrics: dict[str, float],
) -> None:
    direct = _through_the_trial(metrics)
    assert direct == _through_the_reporter(metrics)
    # the rule: any non-finite value fails the trial at that report (kept with its end)
    assert direct == (th.Decision.STOP, th.TrialState.FAILED, [1, 2], True)
