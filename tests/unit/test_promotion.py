"""Promotion: trials PAUSED at rungs, the best resumed where they stopped (synchronous Hyperband)."""

from __future__ import annotations

import pytest

import tunehooks as th
from tunehooks.fidelity import Fidelity, SchedulerKind
from tunehooks.schedulers import PromotionHyperbandScheduler, make_scheduler
from tunehooks.schedulers.promotion import hyperband_brackets
from tunehooks.simulate import simulate
from tunehooks.trial import Decision, Report, TrialRecord, TrialState

ACC = [th.Metric("acc", "maximize")]


def rec(number: int, curve: list[float], state: TrialState) -> TrialRecord:
    reports = tuple(Report(i + 1, {"acc": v}) for i, v in enumerate(curve))
    return TrialRecord(number + 1, number, state, {"i": number}, fidelity=9, reports=reports)


def test_brackets_follow_hyperband():
    fid = Fidelity(min=1, max=27, eta=3)
    assert [(b.size, b.rungs) for b in hyperband_brackets(fid)] == [
        (27, (1.0, 3.0, 9.0)),
        (12, (3.0, 9.0)),
        (6, (9.0,)),
        (4, ()),
    ]
    assert len(hyperband_brackets(fid, brackets=2)) == 2
    with pytest.raises(ValueError, match="brackets"):
        hyperband_brackets(fid, brackets=0)
    assert isinstance(
        make_scheduler(Fidelity(max=9, scheduler=SchedulerKind.PROMOTION), ACC),
        PromotionHyperbandScheduler,
    )


def test_a_trial_pauses_at_each_rung_of_its_bracket():
    s = PromotionHyperbandScheduler(Fidelity(min=1, max=9, eta=3), ACC)
    t = rec(0, [0.5], TrialState.RUNNING)
    assert s.decide(t, [t]) is Decision.STOP
    t2 = rec(0, [0.5, 0.6], TrialState.RUNNING)
    assert s.decide(t2, [t2]) is Decision.CONTINUE
    assert s.decides(0, 3, 2) and not s.decides(0, 2, 1)
    assert s.bracket_of(9) == (1, 1)  # the 10th trial opens the second bracket (first rung 3)
    assert s.decides(9, 3, 2) and not s.decides(9, 1, None)


def test_promotion_waits_for_the_rung_then_takes_the_best_third():
    s = PromotionHyperbandScheduler(Fidelity(min=1, max=9, eta=3), ACC)
    paused = [rec(i, [i / 10], TrialState.PAUSED) for i in range(8)]
    running = rec(8, [], TrialState.RUNNING)
    assert s.promote([*paused, running], more_trials=True) is None  # one still trains
    done = [*paused, rec(8, [0.05], TrialState.PAUSED)]
    assert s.promote(done, more_trials=True).number == 7
    # once 7 resumed and trains, 6 is next; 5 (not in the top third) never is
    resumed = [rec(7, [0.7, 0.8], TrialState.RUNNING) if t.number == 7 else t for t in done]
    assert s.promote(resumed, more_trials=True).number == 6
    # an unfilled bracket is judged with what it has once no new trial can start
    assert s.promote(paused[:3], more_trials=True) is None
    assert s.promote(paused[:3], more_trials=False).number == 2


def test_failed_trials_rank_last():
    s = PromotionHyperbandScheduler(Fidelity(min=1, max=9, eta=3), ACC)
    trials = [rec(i, [0.1 * i], TrialState.PAUSED) for i in range(8)]
    trials.append(rec(8, [], TrialState.FAILED))
    assert s.promote(trials, more_trials=True).number == 7


@pytest.mark.parametrize("workers", [1, 3])
def test_successive_halving_through_a_real_experiment(workers, ranked_table):
    lc = ranked_table()
    exp = th.Experiment.create(
        f"promo-{workers}",
        lc.space(),
        metrics=[lc.objective()],
        budget=th.Budget(trials=9),
        storage="sqlite://",
        method="random",
        seed=3,
        fidelity=th.Fidelity(min=1, max=9, eta=3, scheduler="promotion"),
    )
    res = simulate(exp, lc, workers=workers)
    trials = exp.get_trials()
    states = sorted(t.state.value for t in trials)
    assert states == ["COMPLETED"] + ["PAUSED"] * 8
    # 9 at one epoch, the best 3 resumed to 3 epochs, the best of those resumed to 9
    assert res.total_epochs == 9 + 3 * 2 + 1 * 6
    steps = sorted(t.last_step for t in trials)
    assert steps == [1] * 6 + [3] * 2 + [9]
    best = max(trials, key=lambda t: t.reports[0].metrics["val_acc"])
    assert exp.best is not None and exp.best.number == best.number
    # a resumed curve continues: every step once, in order
    assert [r.step for r in best.reports] == list(range(1, 10))
    assert exp.trial_cost(best) == 1.0 and exp.budget_used()[0] == 9
    assert exp.is_done


def test_a_resumed_handle_says_where_it_continues(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    space = th.SearchSpace({"x": th.Float(0, 1)})
    fid = th.Fidelity(min=1, max=9, eta=3, scheduler="promotion")
    exp = th.Experiment.create(
        "resume", space, metrics=ACC, budget=th.Budget(trials=1), storage=url, fidelity=fid
    )
    t = exp.ask()
    assert t.resume_step is None
    assert t.report(1, {"acc": 0.5}) is Decision.STOP
    assert t.prune().state is TrialState.PAUSED and t.is_finished
    # another process (a second connection) resumes it: the bracket is judged with one trial
    other = th.Experiment.load("resume", storage=url)
    again = other.ask()
    assert again is not None and again.id == t.id and again.resume_step == 1
    assert exp.ask() is None  # nothing left: the one trial is running again
    for step in (2, 3):
        again.report(step, {"acc": 0.5 + step / 10})
    again.prune()
    last = other.ask()
    assert last.id == t.id and last.resume_step == 3
    for step in range(4, 10):
        last.report(step, {"acc": 0.9})
    assert last.complete().state is TrialState.COMPLETED
    assert [r.step for r in exp.get_trials()[0].reports] == list(range(1, 10))
    assert exp.ask() is None and exp.is_done


def test_the_model_promotes_a_paused_trial_it_rates():
    from tunehooks.schedulers import ModelGuidedScheduler

    base = PromotionHyperbandScheduler(Fidelity(min=1, max=9, eta=3), ACC)
    paused = [rec(i, [i / 10], TrialState.PAUSED) for i in range(4)]  # bracket of 9: not full
    assert base.promote(paused, more_trials=True) is None
    chances = {0: 0.6, 1: 0.1, 2: 0.3, 3: 0.05}
    guided = ModelGuidedScheduler(base, lambda t, h: chances[t.number], min_chance=0.2)
    assert guided.pauses and guided.promote(paused, more_trials=True).number == 0
    low = ModelGuidedScheduler(base, lambda t, h: 0.1, min_chance=0.2)
    assert low.promote(paused, more_trials=True) is None
    silent = ModelGuidedScheduler(base, lambda t, h: None, min_chance=0.2)
    assert silent.promote(paused, more_trials=True) is None
    # the rung rule's own promotion comes first
    full = [rec(i, [i / 10], TrialState.PAUSED) for i in range(9)]
    assert guided.promote(full, more_trials=True).number == 8


def test_asha_promotion_resumes_a_rungs_top_third_without_waiting():
    from tunehooks.schedulers import ASHAPromotionScheduler

    s = ASHAPromotionScheduler(Fidelity(min=1, max=9, eta=3), ACC)
    two = [rec(i, [i / 10], TrialState.PAUSED) for i in range(2)]
    assert s.promote(two, more_trials=True) is None  # top third of two: nobody
    three = [*two, rec(2, [0.05], TrialState.PAUSED)]
    assert s.promote(three, more_trials=True).number == 1
    # once 1 is past rung 1, nobody else of three is in the top third
    resumed = [rec(1, [0.1, 0.2], TrialState.RUNNING), three[0], three[2]]
    assert s.promote(resumed, more_trials=True) is None
    # with no trial to come, each rung passes at least its best on
    assert s.promote(two, more_trials=False).number == 1
    assert isinstance(
        make_scheduler(Fidelity(max=9, scheduler=SchedulerKind.ASHA_PROMOTION), ACC),
        ASHAPromotionScheduler,
    )


def test_asha_promotion_through_a_real_experiment(ranked_table):
    lc = ranked_table()
    exp = th.Experiment.create(
        "apromo",
        lc.space(),
        metrics=[lc.objective()],
        budget=th.Budget(trials=9),
        storage="sqlite://",
        method="random",
        seed=1,
        fidelity=th.Fidelity(min=1, max=9, eta=3, scheduler="asha_promotion"),
    )
    res = simulate(exp, lc, workers=2)
    trials = exp.get_trials()
    assert len(trials) == 9 and not any(t.state is TrialState.RUNNING for t in trials)
    full = [t for t in trials if t.state is TrialState.COMPLETED]
    assert full and all(t.last_step == 9 for t in full)
    for t in trials:  # every curve continuous: resumed trials continue at their next step
        assert [r.step for r in t.reports] == list(range(1, len(t.reports) + 1))
    assert res.total_epochs == sum(t.last_step for t in trials) < 9 * 9
