"""Where the multi-fidelity optimizer judges a proposal: full fidelity, or where its data is."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tunehooks as th
from tunehooks.optimizers.gp import MultiFidelityOptimizer
from tunehooks.optimizers.gp.multifidelity import AcquisitionFidelity, fidelity_observations
from tunehooks.schedulers import ASHAScheduler, HedgedScheduler
from tunehooks.trial import Report, TrialRecord, TrialState

ACC = [th.Metric("acc", "maximize")]
SPACE = th.SearchSpace({"x": th.Float(0.0, 1.0), "y": th.Float(0.0, 1.0)})
FID = th.Fidelity(min=1, max=27, eta=3)


def paused(i: int, epochs: int) -> TrialRecord:
    x, y = (i * 0.37) % 1, (i * 0.61) % 1
    reps = tuple(
        Report(e, {"acc": 1 - (x - 0.3) ** 2 - (y - 0.6) ** 2 - 0.2 / e})
        for e in range(1, epochs + 1)
    )
    return TrialRecord(i, i, TrialState.PAUSED, {"x": x, "y": y}, fidelity=27, reports=reps)


def optimizer(scheduler: object, **options: object) -> MultiFidelityOptimizer:
    return MultiFidelityOptimizer(
        SPACE, ACC, fidelity=FID, scheduler=scheduler, n_initial=4, **options
    )  # type: ignore[arg-type]


def test_a_pausing_scheduler_gets_the_data_rule_and_a_stopping_one_full_fidelity():
    assert FID.scheduler.value == "hedged"  # the default scheduler pauses trials
    assert optimizer(HedgedScheduler(FID, ACC)).acquisition_fidelity is AcquisitionFidelity.DATA
    asha = ASHAScheduler(FID, ACC)
    assert optimizer(asha).acquisition_fidelity is AcquisitionFidelity.FULL
    chosen = optimizer(HedgedScheduler(FID, ACC), acquisition_fidelity="full")
    assert chosen.acquisition_fidelity is AcquisitionFidelity.FULL


def test_the_data_rule_takes_the_highest_fidelity_seen_often_enough():
    opt = optimizer(HedgedScheduler(FID, ACC), acquisition_points=6)
    s_of = {e: math.log(e) / math.log(27) for e in (1, 3, 9)}
    history = [paused(i, 1) for i in range(10)]
    _, s, y = fidelity_observations(history, ACC[0], FID)
    assert opt._acquisition_column(s, y) == pytest.approx(s_of[1])  # only rung 1 has data
    history += [paused(i, 3) for i in range(10, 16)]
    _, s, y = fidelity_observations(history, ACC[0], FID)
    assert opt._acquisition_column(s, y) == pytest.approx(s_of[3])  # 6 trials reached 3
    history += [paused(i, 9) for i in range(16, 20)]  # 4 at 9: not yet enough
    _, s, y = fidelity_observations(history, ACC[0], FID)
    assert opt._acquisition_column(s, y) == pytest.approx(s_of[3])
    full = optimizer(HedgedScheduler(FID, ACC), acquisition_fidelity="full")
    assert full._acquisition_column(s, y) == 1.0


def test_a_proposal_under_the_data_rule_is_good_where_the_data_says_so():
    history = [paused(i, 1) for i in range(24)] + [paused(i, 3) for i in range(24, 30)]
    proposal = optimizer(HedgedScheduler(FID, ACC)).suggest(history)
    assert proposal is not None
    x, y = proposal.params["x"], proposal.params["y"]
    assert np.hypot(x - 0.3, y - 0.6) < 0.25  # near the optimum the rung values point to


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"acquisition_fidelity": "highest"}, "optimizer_options.acquisition_fidelity"),
        ({"acquisition_points": 0}, "optimizer_options.acquisition_points"),
        ({"acquisition_points": 2.5}, "optimizer_options.acquisition_points"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        optimizer(HedgedScheduler(FID, ACC), **options)
