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


# -- the full-fidelity nominee ----------------------------------------------------------
def crossing(x: float, epoch: int) -> float:
    """Early epochs favour x near 0.2, the full training x near 0.8 (curves that cross)."""
    early = math.exp(-(epoch - 1) / 3)
    return early * (1 - (x - 0.2) ** 2) + (1 - early) * (1 - (x - 0.8) ** 2)


def crossing_trial(i: int, x: float, epochs: int, state: TrialState) -> TrialRecord:
    reps = tuple(Report(e, {"acc": crossing(x, e)}) for e in range(1, epochs + 1))
    return TrialRecord(i, i, state, {"x": x}, fidelity=27, reports=reps)


LINE = th.SearchSpace({"x": th.Float(0.0, 1.0)})


def crossing_history() -> list[TrialRecord]:
    """20 trials paused at rung 1 (where x near 0.2 looks best) and three full trainings."""
    history = [crossing_trial(i, i / 19, 1, TrialState.PAUSED) for i in range(20)]
    for k, x in enumerate((0.3, 0.55, 0.7)):
        history.append(crossing_trial(20 + k, x, 27, TrialState.COMPLETED))
    return history


def line_optimizer(**options: object) -> MultiFidelityOptimizer:
    return MultiFidelityOptimizer(
        LINE, ACC, fidelity=FID, scheduler=HedgedScheduler(FID, ACC), n_initial=4, **options
    )  # type: ignore[arg-type]


def test_a_late_riser_predicted_at_full_fidelity_is_proposed_over_the_data_nominee():
    history = crossing_history()
    with_rival = line_optimizer().suggest(history)
    without = line_optimizer(full_nominee=False).suggest(history)
    assert with_rival is not None and without is not None
    assert without.params["x"] < 0.45  # the data rule follows rung 1
    assert with_rival.params["x"] > 0.6  # the full trainings point to the late riser


def test_no_rival_while_another_trial_is_pending_or_the_first_rung_is_trusted():
    history = crossing_history()
    plain = line_optimizer(full_nominee=False)
    running = [*history, crossing_trial(23, 0.9, 1, TrialState.RUNNING)]
    assert line_optimizer().suggest(running) == plain.suggest(running)

    class Trusting(HedgedScheduler):
        def first_rung_trusted(self, history: object) -> bool:
            return True

    trusting = MultiFidelityOptimizer(
        LINE, ACC, fidelity=FID, scheduler=Trusting(FID, ACC), n_initial=4
    )
    assert trusting.suggest(history) == plain.suggest(history)


def test_the_hedge_trusts_its_first_rung_only_once_measured_and_predictive():
    sched = HedgedScheduler(FID, ACC)
    assert sched.first_rung_trusted([]) is False  # nothing measured yet
    agreeing = [paused(i, 3) for i in range(8)]  # rung 1 and rung 3 rank alike
    assert sched.first_rung_trusted(agreeing) is True
    crossed = [crossing_trial(i, i / 7, 3, TrialState.PAUSED) for i in range(8)]
    assert sched.first_rung_trusted(crossed) is False  # epoch 1 and 3 rank apart
    assert ASHAScheduler(FID, ACC).first_rung_trusted(agreeing) is None  # not measured there


def test_full_nominee_must_be_a_boolean():
    with pytest.raises(ValueError, match=r"optimizer_options\.full_nominee"):
        line_optimizer(full_nominee="yes")
