"""Schedulers: pure decisions on records, and through a real experiment."""

from __future__ import annotations

import numpy as np
import pytest

import tunehooks as th
from tunehooks.fidelity import Fidelity, SchedulerKind, Task
from tunehooks.metrics import Metric
from tunehooks.schedulers import (
    ASHAScheduler,
    HyperbandScheduler,
    MedianScheduler,
    ModelGuidedScheduler,
    NoScheduler,
    make_scheduler,
)
from tunehooks.schedulers._common import quantile, rung_levels
from tunehooks.schedulers.hyperband import bracket_weights
from tunehooks.trial import Decision, Report, TrialRecord, TrialState

ACC = [Metric("acc", "maximize")]
LOSS = [Metric("loss", "minimize")]


def rec(
    i: int,
    curve: list[float],
    *,
    name: str = "acc",
    state: TrialState = TrialState.RUNNING,
    steps: list[int] | None = None,
) -> TrialRecord:
    steps = steps or list(range(1, len(curve) + 1))
    reports = tuple(Report(s, {name: v}) for s, v in zip(steps, curve, strict=True))
    return TrialRecord(id=i + 1, number=i, state=state, params={}, reports=reports)


def test_rung_levels_are_min_times_eta_powers_below_max():
    assert rung_levels(1, 27, 3) == [1, 3, 9]
    assert rung_levels(1, 30, 3) == [1, 3, 9, 27]
    assert rung_levels(2, 2, 3) == []
    assert quantile([1.0, 2.0, 3.0], 0.5) == 2.0


def test_make_scheduler_wires_every_kind():
    kinds = {
        SchedulerKind.NONE: NoScheduler,
        SchedulerKind.ASHA: ASHAScheduler,
        SchedulerKind.HYPERBAND: HyperbandScheduler,
        SchedulerKind.MEDIAN: MedianScheduler,
    }
    for kind, cls in kinds.items():
        assert isinstance(make_scheduler(Fidelity(max=9, scheduler=kind), ACC), cls)
    assert isinstance(make_scheduler(None, ACC), NoScheduler)


def test_asha_first_trial_at_a_rung_continues_without_waiting():
    s = ASHAScheduler(Fidelity(min=1, max=9, eta=3), ACC)
    t = rec(0, [0.1])
    assert s.decide(t, [t]) is Decision.CONTINUE


def test_asha_keeps_top_third_at_each_rung():
    s = ASHAScheduler(Fidelity(min=1, max=27, eta=3), ACC)
    done = [rec(i, [v], state=TrialState.PRUNED) for i, v in enumerate([0.1, 0.2, 0.3, 0.4, 0.5])]
    good, bad = rec(5, [0.45]), rec(6, [0.25])
    assert s.decide(good, [*done, good]) is Decision.CONTINUE
    assert s.decide(bad, [*done, bad]) is Decision.STOP


def test_asha_decides_only_when_a_rung_is_crossed_and_on_the_rung_value():
    s = ASHAScheduler(Fidelity(min=1, max=27, eta=3), ACC)
    leader = rec(0, [0.9, 0.9, 0.95], state=TrialState.COMPLETED)
    # between rungs (step 2) nothing is decided even for a poor trial
    t = rec(1, [0.1, 0.2])
    assert s.decide(t, [leader, t]) is Decision.CONTINUE
    # at rung 3 the value of step 3 is compared with the others' step-3 values
    t3 = rec(1, [0.1, 0.2, 0.3])
    assert s.decide(t3, [leader, t3]) is Decision.STOP
    # reports every 2 steps: step 4 is the first at or past rung 3
    t4 = rec(2, [0.97, 0.99], steps=[2, 4])
    assert s.decide(t4, [leader, t4]) is Decision.CONTINUE


def test_asha_respects_minimize_and_fidelity_metric():
    s = ASHAScheduler(Fidelity(min=1, max=9), LOSS)
    a, b = rec(0, [0.1], name="loss"), rec(1, [5.0], name="loss")
    assert s.decide(b, [a, b]) is Decision.STOP
    assert s.decide(a, [b, a]) is Decision.CONTINUE
    metrics = [Metric("acc", "maximize"), Metric("loss", "minimize", strategy="store")]
    with pytest.raises(ValueError, match=r"fidelity\.metric"):
        ASHAScheduler(
            Fidelity(max=9, metric="loss"),
            [Metric("acc", "maximize"), Metric("loss", strategy="store")],
        )
    s2 = ASHAScheduler(Fidelity(max=9, metric="loss"), metrics)
    assert s2.metric.name == "loss"


def test_asha_diverged_value_counts_as_worst():
    s = ASHAScheduler(Fidelity(min=1, max=9), LOSS)
    a, b = rec(0, [0.1], name="loss"), rec(1, [float("nan")], name="loss")
    assert s.decide(b, [a, b]) is Decision.STOP


def test_asha_prunes_about_two_thirds_of_a_random_population():
    rng = np.random.default_rng(0)
    s = ASHAScheduler(Fidelity(min=1, max=27, eta=3), ACC)
    history: list[TrialRecord] = []
    stopped = 0
    for i in range(300):
        t = rec(i, [float(rng.random())])
        d = s.decide(t, [*history, t])
        stopped += d is Decision.STOP
        history.append(t)
    assert 0.55 < stopped / 300 < 0.75


def test_hyperband_brackets_follow_synchronous_proportions_and_isolate_comparisons():
    fid = Fidelity(min=1, max=27, eta=3, scheduler="hyperband")
    s = HyperbandScheduler(fid, ACC)
    w = bracket_weights(3, 3.0)
    counts = np.bincount([s.bracket(n) for n in range(1000)], minlength=4) / 1000
    assert np.allclose(counts, w, atol=0.01)
    assert [s.bracket_min(b) for b in range(4)] == [1, 3, 9, 27]
    # a trial of bracket 1 is not judged at rung 1, even when it is the worst there
    n1 = next(n for n in range(50) if s.bracket(n) == 1)
    others = [rec(n, [0.9], state=TrialState.PRUNED) for n in range(n1) if s.bracket(n) == 0]
    t = rec(n1, [0.01])
    assert s.decide(t, [*others, t]) is Decision.CONTINUE
    # bracket-0 trials are compared only with bracket 0
    n0 = [n for n in range(n1 + 10) if s.bracket(n) == 0]
    a, b = rec(n0[-2], [0.5]), rec(n0[-1], [0.4])
    assert s.decide(b, [a, b, rec(n1, [0.01])]) is Decision.STOP
    with pytest.raises(ValueError, match="brackets"):
        HyperbandScheduler(fid, ACC, brackets=0)
    assert len(HyperbandScheduler(fid, ACC, brackets=2).weights) == 2


def test_median_rule_compares_best_with_median_of_running_averages():
    s = MedianScheduler(Fidelity(min=2, max=10, scheduler="median"), ACC, min_trials=3)
    others = [rec(i, [0.5, 0.6, 0.7], state=TrialState.COMPLETED) for i in range(3)]
    early = rec(3, [0.1])  # step 1 < min: no decision
    assert s.decide(early, [*others, early]) is Decision.CONTINUE
    slow = rec(3, [0.1, 0.5])  # best 0.5 < median of averages 0.55
    assert s.decide(slow, [*others, slow]) is Decision.STOP
    ok = rec(3, [0.1, 0.56])
    assert s.decide(ok, [*others, ok]) is Decision.CONTINUE
    few = rec(3, [0.1, 0.2])
    assert s.decide(few, [*others[:2], few]) is Decision.CONTINUE
    with pytest.raises(ValueError, match="min_trials"):
        MedianScheduler(Fidelity(max=9), ACC, min_trials=0)


def test_fidelity_tasks_validation_and_round_trip():
    fid = Fidelity(tasks=[{"name": "short", "cost": 0.1}, Task("full", 1.0)])
    assert (
        fid.max_resource == 1.0 and fid.min_resource == 0.1 and fid.scheduler is SchedulerKind.NONE
    )
    assert fid.task(0.1) == Task("short", 0.1) and fid.task(None) == Task("full", 1.0)
    assert Fidelity.from_dict(fid.to_dict()) == fid
    assert "tasks" not in Fidelity(max=9).to_dict()
    with pytest.raises(ValueError, match="exactly one task must cost 1"):
        Fidelity(tasks=[Task("a", 0.5), Task("b", 0.2)])
    with pytest.raises(ValueError, match="cost must lie in"):
        Task("a", 1.5)
    with pytest.raises(ValueError, match="scheduler"):
        Fidelity(tasks=[Task("full", 1.0)], scheduler="asha")
    with pytest.raises(ValueError, match=r"fidelity\.max is required"):
        Fidelity()


@pytest.mark.parametrize("kind", ["asha", "hyperband", "median"])
def test_scheduler_prunes_through_a_real_experiment(kind, storage_url):
    space = th.SearchSpace({"q": th.Float(0.0, 1.0)})
    exp = th.Experiment.create(
        f"sched-{kind}",
        space,
        metrics=[th.Metric("acc", goal="maximize")],
        budget=th.Budget(trials=30),
        storage=storage_url,
        method="random",
        seed=3,
        fidelity=th.Fidelity(min=1, max=9, eta=3, scheduler=kind),
    )
    for trial in exp.ask_loop():
        assert trial.fidelity == 9
        q = trial.params["q"]
        for epoch in range(1, 10):
            if trial.report(epoch, {"acc": q * (1 - 0.5**epoch)}) is Decision.STOP:
                trial.prune()
                break
    trials = exp.get_trials()
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    assert pruned and all(t.reports for t in pruned)
    assert exp.best is not None and exp.best.state is TrialState.COMPLETED
    _, cost = exp.budget_used()
    assert cost < 30 * 0.8
    # the best configuration is never pruned by ASHA: the top q survives every rung
    if kind == "asha":
        top = max(trials, key=lambda t: t.params["q"])
        assert top.state is TrialState.COMPLETED


def test_the_median_rule_decides_from_min_to_before_max():
    median = MedianScheduler(Fidelity(min=3, max=9, scheduler="median"), ACC)
    assert [median.decides(0, s, s - 1) for s in range(1, 10)] == [
        s in range(3, 9) for s in range(1, 10)
    ]


def test_the_decision_points_follow_the_steps_alone():
    asha = ASHAScheduler(Fidelity(min=1, max=27, eta=3), ACC)
    assert [asha.decides(5, s, None if s == 1 else s - 1) for s in range(1, 10)] == [
        s in (1, 3, 9) for s in range(1, 10)
    ]
    assert asha.decides(5, 4, 2)  # reports every 2 steps: 4 is the first past rung 3
    assert not asha.decides(5, 2, 4)  # an older step reported late decides nothing


def test_two_objectives_prune_on_the_metric_the_fidelity_names(storage_url):
    # accuracy rises with q, latency falls with q: ASHA on latency keeps the high q
    exp = th.Experiment.create(
        "two-objectives",
        th.SearchSpace({"q": th.Float(0.0, 1.0)}),
        metrics=[th.Metric("acc", goal="maximize"), th.Metric("latency", goal="minimize")],
        budget=th.Budget(trials=24),
        storage=storage_url,
        method="random",
        seed=5,
        fidelity=th.Fidelity(min=1, max=9, eta=3, scheduler="asha", metric="latency"),
    )
    for trial in exp.ask_loop():
        q = trial.params["q"]
        for epoch in range(1, 10):
            metrics = {"acc": (1 - q) * (1 - 0.5**epoch), "latency": 1.0 - q + 0.01 / epoch}
            if trial.report(epoch, metrics) is Decision.STOP:
                trial.prune()
                break
        else:
            trial.complete()
    trials = exp.get_trials()
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    kept = [t for t in trials if t.state is TrialState.COMPLETED]
    assert pruned and kept
    # the survivors are the low-latency (high q) configurations, the worst accuracy ones
    assert min(t.params["q"] for t in kept) > np.median([t.params["q"] for t in trials])
    front = exp.pareto_front()
    assert front and all(t.state is TrialState.COMPLETED for t in front)


def test_the_model_overrules_a_stop_only_with_enough_chance():
    asha = ASHAScheduler(Fidelity(min=1, max=9, eta=3), ACC)
    history = [rec(i, [0.5 + 0.1 * i], state=TrialState.PRUNED) for i in range(3)]
    low = rec(3, [0.1])
    asked: list[int] = []

    def judge(chance: float | None):
        def fn(trial: TrialRecord, hist) -> float | None:
            asked.append(trial.number)
            return chance

        return fn

    both = [*history, low]
    assert ModelGuidedScheduler(asha, judge(0.5), min_chance=0.2).decide(low, both) is (
        Decision.CONTINUE
    )
    assert ModelGuidedScheduler(asha, judge(0.1), min_chance=0.2).decide(low, both) is Decision.STOP
    assert ModelGuidedScheduler(asha, judge(None), min_chance=0.2).decide(low, both) is (
        Decision.STOP  # no opinion yet (the initial design): the rung rule stands
    )
    asked.clear()
    high = rec(4, [0.99])
    assert ModelGuidedScheduler(asha, judge(0.0), min_chance=0.2).decide(high, [*both, high]) is (
        Decision.CONTINUE
    )
    assert asked == []  # the judge is only asked about a STOP
    guided = ModelGuidedScheduler(asha, judge(0.5), min_chance=0.2)
    assert [guided.decides(1, s, s - 1 if s > 1 else None) for s in (1, 2, 3)] == [
        True,
        False,
        True,
    ]
    assert guided.needs_history and guided.first_rung() == asha.first_rung()
    with pytest.raises(ValueError, match="min_chance"):
        ModelGuidedScheduler(asha, judge(0.5), min_chance=1.0)


def test_bayes_with_a_rung_rule_asks_the_model_before_stopping(storage_url):
    def make(name: str, **kw) -> th.Experiment:
        kw.setdefault("method", "bayes")
        return th.Experiment.create(
            name,
            th.SearchSpace({"q": th.Float(0.0, 1.0)}),
            metrics=[th.Metric("acc", goal="maximize")],
            budget=th.Budget(trials=4),
            storage=storage_url,
            fidelity=th.Fidelity(min=1, max=9, eta=3, scheduler="asha"),
            **kw,
        )

    guided = make("guided").scheduler
    assert isinstance(guided, ModelGuidedScheduler) and guided.min_chance == 0.2
    assert isinstance(guided.base, ASHAScheduler)
    off = make("off", optimizer_options={"continue_chance": 0}).scheduler
    assert isinstance(off, ASHAScheduler)
    assert isinstance(make("random", method="random").scheduler, ASHAScheduler)
    with pytest.raises(ValueError, match=r"optimizer_options\.continue_chance"):
        make("bad", optimizer_options={"continue_chance": 1.5})


def test_every_scheduler_name_has_a_registered_class_and_every_optimizer_name_too():
    from tunehooks.optimizers import OPTIMIZERS, Method, optimizer_class
    from tunehooks.schedulers import SCHEDULERS

    assert set(SCHEDULERS) == set(SchedulerKind)
    assert set(OPTIMIZERS) == set(Method)
    fid = Fidelity(min=1, max=27, eta=3)
    for kind in SchedulerKind:
        sched = make_scheduler(Fidelity(min=1, max=27, scheduler=kind), ACC)
        assert type(sched) is SCHEDULERS[kind]
    assert optimizer_class(Method.BAYES).__name__ == "GPOptimizer"
    assert optimizer_class(Method.BAYES, fid).__name__ == "MultiFidelityOptimizer"
    assert optimizer_class(Method.RANDOM, fid).__name__ == "RandomOptimizer"


def test_scheduler_settings_reach_the_class_and_a_wrong_one_names_the_scheduler():
    fid = Fidelity(min=1, max=27, eta=3, scheduler="hyperband")
    assert len(make_scheduler(fid, ACC, settings={"brackets": 2}).weights) == 2
    with pytest.raises(ValueError, match=r"scheduler: hyperband does not take \['bogus'\]"):
        make_scheduler(fid, ACC, settings={"bogus": 1})
    guided = make_scheduler(fid, ACC, settings={"continue_chance": 0.3}, judge=lambda t, h: None)
    assert isinstance(guided, ModelGuidedScheduler) and guided.min_chance == 0.3
    off = make_scheduler(fid, ACC, settings={"continue_chance": 0}, judge=lambda t, h: None)
    assert isinstance(off, HyperbandScheduler)
    with pytest.raises(ValueError, match=r"scheduler\.continue_chance must lie in \[0, 1\)"):
        make_scheduler(fid, ACC, settings={"continue_chance": 1})
    none = Fidelity(min=1, max=27, scheduler="none")
    assert isinstance(make_scheduler(none, ACC, judge=lambda t, h: 0.9), NoScheduler)


def test_the_first_rung_is_where_a_stop_rule_first_judges_a_new_trial():
    from tunehooks.schedulers import FirstRung

    def first(kind: str):
        return make_scheduler(Fidelity(min=2, max=54, eta=3, scheduler=kind), ACC).first_rung()

    assert first("asha") == FirstRung(2.0, 1 / 3)
    assert first("hyperband") == FirstRung(2.0, 1 / 3)  # the most aggressive bracket's
    for kind in ("none", "median", "promotion", "asha_promotion"):  # nothing stopped for good
        assert first(kind) is None


def test_the_multifidelity_optimizer_asks_the_scheduler_for_its_first_rung():
    from tunehooks.optimizers import make_optimizer
    from tunehooks.schedulers import FirstRung

    space = th.SearchSpace({"x": th.Float(0.0, 1.0)})
    fid = Fidelity(min=1, max=9, eta=3, scheduler="asha")
    default = make_optimizer("bayes", space, ACC, fidelity=fid)
    assert default.first_rung == FirstRung(1.0, 1 / 3)  # type: ignore[attr-defined]
    told = make_optimizer("bayes", space, ACC, fidelity=fid, scheduler=NoScheduler())
    assert told.first_rung is None  # type: ignore[attr-defined]


class _DuckTyped:
    """A custom rule that is no Scheduler subclass: it only decides."""

    calls = 0

    def decide(self, trial: TrialRecord, history) -> Decision:
        _DuckTyped.calls += 1
        return Decision.STOP if trial.reports[-1].step >= 2 else Decision.CONTINUE


def test_a_duck_typed_scheduler_gets_the_defaults_of_the_members_it_lacks(storage_url):
    exp = th.Experiment.create(
        "duck",
        th.SearchSpace({"q": th.Float(0.0, 1.0)}),
        metrics=[th.Metric("acc", goal="maximize")],
        budget=th.Budget(trials=1),
        storage=storage_url,
        method="random",
        fidelity=th.Fidelity(min=1, max=9, eta=3),
        scheduler=_DuckTyped(),
    )
    sched = exp.scheduler
    assert sched.needs_history and not sched.pauses and sched.first_rung() is None
    assert sched.calls == 0  # type: ignore[attr-defined]  # its own attributes stay reachable
    trial = exp.ask()
    assert trial is not None
    assert trial.report(1, {"acc": 0.5}) is Decision.CONTINUE
    assert trial.report(2, {"acc": 0.6}) is Decision.STOP
    assert _DuckTyped.calls == 2
    with pytest.raises(TypeError, match="scheduler: expected an object with decide"):
        th.Experiment.load("duck", storage=storage_url, scheduler=object())


def test_continue_chance_as_an_optimizer_option_is_a_deprecated_alias(storage_url):
    with pytest.warns(DeprecationWarning, match="model-guided scheduler's setting"):
        exp = th.Experiment.create(
            "alias",
            th.SearchSpace({"q": th.Float(0.0, 1.0)}),
            metrics=[th.Metric("acc", goal="maximize")],
            budget=th.Budget(trials=4),
            storage=storage_url,
            fidelity=th.Fidelity(min=1, max=9, eta=3, scheduler="asha"),
            optimizer_options={"continue_chance": 0.35},
        )
    sched = exp.scheduler
    assert isinstance(sched, ModelGuidedScheduler) and sched.min_chance == 0.35
