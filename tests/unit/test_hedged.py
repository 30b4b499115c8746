"""The hedged scheduler: promotion successive halving that promotes more where rungs mislead."""

from __future__ import annotations

import itertools

import pytest

import tunehooks as th
from tunehooks.fidelity import Fidelity
from tunehooks.schedulers.hedged import HedgedScheduler, ladder, rank_correlation
from tunehooks.simulate import simulate
from tunehooks.trial import Decision, Report, TrialRecord, TrialState

ACC = [th.Metric("acc", "maximize")]


def rec(number: int, curve: list[float], state: TrialState = TrialState.PAUSED) -> TrialRecord:
    reports = tuple(Report(i + 1, {"acc": v}) for i, v in enumerate(curve))
    return TrialRecord(number + 1, number, state, {"i": number}, fidelity=9, reports=reports)


def test_the_ladder_has_no_rung_just_below_a_full_training():
    assert ladder(Fidelity(min=1, max=30, eta=3)) == [1.0, 3.0, 9.0]
    assert ladder(Fidelity(min=1, max=9, eta=3)) == [1.0, 3.0]
    assert ladder(Fidelity(min=2, max=3, eta=3)) == []


def test_rank_correlation_is_spearmans_with_ties():
    assert rank_correlation([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert rank_correlation([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert rank_correlation([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(0.9486833)
    assert rank_correlation([1], [1]) is None
    assert rank_correlation([2, 2], [1, 3]) is None


def test_a_trial_pauses_at_every_rung():
    s = HedgedScheduler(Fidelity(min=1, max=9, eta=3), ACC)
    t = rec(0, [0.5], TrialState.RUNNING)
    assert s.decide(t, [t]) is Decision.STOP
    t2 = rec(0, [0.5, 0.6], TrialState.RUNNING)
    assert s.decide(t2, [t2]) is Decision.CONTINUE
    assert s.decides(0, 3, 2) and not s.decides(0, 2, 1) and s.decides(0, 1, None)
    assert s.pauses


def _rung_pairs(agree: bool, n: int = 6) -> list[TrialRecord]:
    """n trials resumed past rung 1 and still training past rung 3: their rung-3 order
    follows rung 1's (``agree``) or reverses it."""
    out = []
    for i in range(n):
        late = i / 10 if agree else (n - i) / 10
        out.append(rec(i, [i / 100, 0.5, late, late], TrialState.RUNNING))
    return out


def test_trust_is_measured_on_trials_that_reached_both_rungs():
    s = HedgedScheduler(Fidelity(min=1, max=9, eta=3), ACC, min_pairs=5)
    assert s.rung_trust(0, _rung_pairs(True)) == pytest.approx(1.0)
    assert s.rung_trust(0, _rung_pairs(False)) == pytest.approx(-1.0)
    assert s.rung_trust(0, _rung_pairs(True, n=4)) is None  # too few pairs yet
    assert s.rung_trust(1, _rung_pairs(True)) is None  # nobody reached the full training


def test_a_misleading_rung_promotes_more():
    s = HedgedScheduler(Fidelity(min=1, max=9, eta=3), ACC, trust=0.5, min_pairs=5)
    assert s.keep_fraction(None) == pytest.approx(1 / 3)
    assert s.keep_fraction(0.8) == pytest.approx(1 / 3)
    assert s.keep_fraction(0.25) == pytest.approx(3**-0.5)
    assert s.keep_fraction(-0.3) == 1.0
    # 6 new trials paused at rung 1 next to 6 that went on: with a trusted rung 1 only the
    # top third of the 12 values there may go on (already used by the 6 resumed), with a
    # misleading one the best waiting trial is resumed too
    new = [rec(10 + i, [0.001 * i]) for i in range(6)]
    assert s.promote([*_rung_pairs(True), *new], more_trials=True) is None
    pick = s.promote([*_rung_pairs(False), *new], more_trials=True)
    assert pick is not None and pick.number == 15


def test_promotion_takes_the_deepest_rung_first_and_each_rung_passes_one_at_the_end():
    s = HedgedScheduler(Fidelity(min=1, max=9, eta=3), ACC)
    at1 = [rec(i, [i / 10]) for i in range(3)]
    assert s.promote(at1[:2], more_trials=True) is None
    assert s.promote(at1[:2], more_trials=False).number == 1
    at3 = [rec(5 + i, [0.5, 0.6, 0.7 + i / 10]) for i in range(3)]
    assert s.promote([*at1, *at3], more_trials=True).number == 7
    assert s.promote([rec(0, [0.1], TrialState.FAILED)], more_trials=True) is None
    with pytest.raises(ValueError, match="trust"):
        HedgedScheduler(Fidelity(max=9), ACC, trust=0)
    with pytest.raises(ValueError, match="min_pairs"):
        HedgedScheduler(Fidelity(max=9), ACC, min_pairs=2)


def test_hedged_through_a_real_experiment(ranked_table):
    epochs = 9
    lc = ranked_table(27, epochs)
    exp = th.Experiment.create(
        "hedged",
        lc.space(),
        metrics=[lc.objective()],
        budget=th.Budget(trials=12),
        storage="sqlite://",
        method="random",
        seed=2,
        fidelity=th.Fidelity(min=1, max=epochs, eta=3),
        scheduler=HedgedScheduler(th.Fidelity(min=1, max=epochs, eta=3), [lc.objective()]),
    )
    res = simulate(exp, lc, workers=2)
    trials = exp.get_trials()
    assert len(trials) == 12 and not any(t.state is TrialState.RUNNING for t in trials)
    assert any(t.state is TrialState.COMPLETED and t.last_step == epochs for t in trials)
    for t in trials:  # resumed curves continue at their next step
        assert [r.step for r in t.reports] == list(range(1, len(t.reports) + 1))
    assert res.total_epochs == sum(t.last_step for t in trials) < 12 * epochs


def test_it_is_chosen_by_name_and_declines_the_models_second_opinion():
    from tunehooks.fidelity import SchedulerKind
    from tunehooks.schedulers import ASHAScheduler, ModelGuidedScheduler, make_scheduler

    fid = th.Fidelity(min=1, max=30, eta=3, scheduler="hedged")
    assert fid.scheduler is SchedulerKind.HEDGED and fid.to_dict()["scheduler"] == "hedged"
    # the default since leave-one-table-out chose it (docs/multifidelity.md#benchmark)
    assert th.Fidelity(min=1, max=30, eta=3).scheduler is SchedulerKind.HEDGED
    assert isinstance(make_scheduler(fid, ACC), HedgedScheduler)
    space = th.SearchSpace({"x": th.Float(0.0, 1.0)})

    names = itertools.count()

    def exp(fidelity: Fidelity) -> th.Experiment:
        return th.Experiment.create(
            f"default-{fidelity.scheduler.value}-{next(names)}",
            space,
            metrics=ACC,
            budget=th.Budget(cost=10),
            storage="sqlite://",
            method="bayes",
            seed=0,
            fidelity=fidelity,
        )

    assert isinstance(exp(fid).scheduler, HedgedScheduler)  # used as it is, no judge
    assert isinstance(exp(th.Fidelity(min=1, max=30, eta=3)).scheduler, HedgedScheduler)
    guided = exp(th.Fidelity(min=1, max=30, eta=3, scheduler="asha")).scheduler
    assert isinstance(guided, ModelGuidedScheduler) and isinstance(guided.base, ASHAScheduler)
