"""The multi-fidelity optimizer, tasks, cost budgets and "best" at full fidelity."""

from __future__ import annotations

import numpy as np
import pytest

import tunehooks as th
from tunehooks.fidelity import Fidelity, Task
from tunehooks.optimizers import make_optimizer
from tunehooks.optimizers.gp import MultiFidelityOptimizer, fidelity_observations
from tunehooks.simulate import LearningCurves, simulate
from tunehooks.trial import Report, TrialRecord, TrialState

ACC = th.Metric("acc", goal="maximize")
SPACE = th.SearchSpace({"x": th.Float(0.0, 1.0), "y": th.Float(0.0, 1.0)})
FID = Fidelity(min=1, max=9, eta=3)


def curve(p: dict, epochs: int) -> tuple[Report, ...]:
    # the final value peaks at (0.7, 0.3); early epochs rank configurations the same way
    q = 1.0 - (p["x"] - 0.7) ** 2 - (p["y"] - 0.3) ** 2
    return tuple(Report(e, {"acc": q * (1 - 0.5**e)}) for e in range(1, epochs + 1))


def trial(i: int, p: dict, epochs: int, state: TrialState = TrialState.PRUNED) -> TrialRecord:
    return TrialRecord(i, i, state, p, fidelity=9, reports=curve(p, epochs))


def test_observations_take_each_rung_and_the_newest_report():
    t = trial(0, {"x": 0.1, "y": 0.1}, 5)
    rows, s, y = fidelity_observations([t], ACC, FID)
    assert len(rows) == 3  # steps 1, 3 (rungs) and 5 (newest)
    assert s.tolist() == pytest.approx([0.0, 0.5, np.log(5) / np.log(9)])
    assert y[0] == pytest.approx(t.reports[0].metrics["acc"])
    queued = TrialRecord(1, 1, TrialState.QUEUED, {"x": 0.5, "y": 0.5})
    assert len(fidelity_observations([queued], ACC, FID)[0]) == 0


def test_make_optimizer_picks_the_multifidelity_model_for_scheduled_bayes():
    opt = make_optimizer("bayes", SPACE, [ACC], fidelity=Fidelity(max=9, scheduler="asha"))
    assert isinstance(opt, MultiFidelityOptimizer)
    tasks = Fidelity(tasks=[Task("short", 0.25), Task("full", 1.0)])
    assert isinstance(make_optimizer("bayes", SPACE, [ACC], fidelity=tasks), MultiFidelityOptimizer)
    plain = make_optimizer("bayes", SPACE, [ACC], fidelity=Fidelity(max=9, scheduler="none"))
    assert not isinstance(plain, MultiFidelityOptimizer)
    with pytest.raises(ValueError, match="constraint"):
        MultiFidelityOptimizer(
            SPACE,
            [ACC, th.Metric("ms", "minimize", strategy="constraint", threshold=1)],
            fidelity=FID,
        )


def test_learns_from_pruned_trials_alone_and_is_deterministic():
    rng = np.random.default_rng(0)
    history = [trial(i, p, 1) for i, p in enumerate(SPACE.sample(25, rng=rng))]
    a = MultiFidelityOptimizer(SPACE, [ACC], fidelity=FID, seed=3).suggest(history)
    b = MultiFidelityOptimizer(SPACE, [ACC], fidelity=FID, seed=3).suggest(history)
    assert a is not None and b is not None and a.params == b.params
    # only epoch-1 values were seen, yet the suggestion is near the full-fidelity optimum
    assert abs(a.params["x"] - 0.7) < 0.25 and abs(a.params["y"] - 0.3) < 0.25


def test_pending_trials_push_suggestions_elsewhere():
    rng = np.random.default_rng(1)
    history = [trial(i, p, 3) for i, p in enumerate(SPACE.sample(20, rng=rng))]
    opt = MultiFidelityOptimizer(SPACE, [ACC], fidelity=FID, seed=0)
    first = opt.suggest(history)
    assert first is not None
    running = TrialRecord(99, 20, TrialState.RUNNING, first.params, fidelity=9)
    second = opt.suggest([*history, running])
    assert second is not None and second.params != first.params


def test_tasks_start_cheap_then_choose_by_value_per_cost():
    fid = Fidelity(tasks=[Task("short", 0.2), Task("full", 1.0)])
    opt = MultiFidelityOptimizer(SPACE, [ACC], fidelity=fid, n_initial=4, seed=0)
    assert opt.suggest([]).fidelity == pytest.approx(0.2)
    rng = np.random.default_rng(2)
    history = []
    for i, p in enumerate(SPACE.sample(12, rng=rng)):
        cost = 0.2 if i % 3 else 1.0
        q = curve(p, 9)[-1].metrics["acc"] - (0.1 if cost < 1 else 0.0)
        history.append(TrialRecord(i, i, TrialState.COMPLETED, p, fidelity=cost, values={"acc": q}))
    s = opt.suggest(history)
    assert s is not None and s.fidelity in (pytest.approx(0.2), pytest.approx(1.0))


def test_best_comes_only_from_full_fidelity_and_budget_counts_task_cost(storage_url):
    exp = th.Experiment.create(
        "tasks-best",
        SPACE,
        metrics=[ACC],
        budget=th.Budget(cost=2.0),
        storage=storage_url,
        method="random",
        fidelity=Fidelity(tasks=[Task("short", 0.25), Task("full", 1.0)]),
    )
    short = exp.enqueue({"x": 0.1, "y": 0.1}, fidelity=0.25)
    full = exp.enqueue({"x": 0.2, "y": 0.2}, fidelity=1.0)
    exp.tell(exp.ask(), {"acc": 0.99})  # the short task, higher value
    exp.tell(exp.ask(), {"acc": 0.50})
    assert exp.best is not None and exp.best.id == full.id != short.id
    assert exp.budget_used()[1] == pytest.approx(1.25)


def test_asha_budget_counts_epochs_in_full_trainings(storage_url):
    exp = th.Experiment.create(
        "asha-cost",
        SPACE,
        metrics=[ACC],
        budget=th.Budget(trials=2),
        storage=storage_url,
        method="random",
        fidelity=Fidelity(min=1, max=9),
    )
    t = exp.ask()
    t.report(1, {"acc": 0.1})
    t.report(2, {"acc": 0.2})
    rec = t.prune()
    assert exp.trial_cost(rec) == pytest.approx(2 / 9)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 4])
def test_multifidelity_experiment_finds_the_best_row_through_the_simulator(workers):
    # 6 x 6 grid of curves; the plateau and the early slope depend smoothly on the row
    grid = np.array([[a, b] for a in range(6) for b in range(6)])
    q = 0.95 - 0.02 * (grid[:, 0] - 4) ** 2 - 0.015 * (grid[:, 1] - 1) ** 2
    e = np.arange(1, 10)
    curves = q[:, None] * (1 - 0.5 ** e[None, :])
    lc = LearningCurves({"a": list(range(6)), "b": list(range(6))}, grid, curves)
    exp = th.Experiment.create(
        f"mf-sim-{workers}",
        lc.space(),
        metrics=[lc.objective()],
        budget=th.Budget(trials=30),
        storage="sqlite://",
        method="bayes",
        seed=0,
        fidelity=Fidelity(min=1, max=9, eta=3),
        optimizer_options={"n_initial": 6},
    )
    assert isinstance(exp.optimizer, MultiFidelityOptimizer)
    res = simulate(exp, lc, workers=workers, use_time=False, target=lc.best_final())
    assert res.incumbent_at(res.total_epochs) == pytest.approx(lc.best_final())
    # the default scheduler (hedged) pauses the trials it stops; some never resume
    stopped = (TrialState.PRUNED, TrialState.PAUSED)
    assert any(t.state in stopped and (t.last_step or 0) < 9 for t in exp.get_trials())


def test_the_model_rates_a_partial_curve_by_its_chance_to_beat_the_best():
    rng = np.random.default_rng(1)
    opt = MultiFidelityOptimizer(SPACE, [ACC], fidelity=FID, seed=0, n_initial=5)
    points = SPACE.sample(30, rng=rng)
    history = [
        trial(i, p, 9 if i % 3 == 0 else 1, TrialState.COMPLETED) for i, p in enumerate(points)
    ]
    assert opt.chance_to_win(trial(99, points[0], 1), history[:3]) is None  # initial design
    near = trial(98, {"x": 0.7, "y": 0.3}, 1, TrialState.RUNNING)
    far = trial(97, {"x": 0.0, "y": 1.0}, 1, TrialState.RUNNING)
    p_near = opt.chance_to_win(near, [*history, near])
    p_far = opt.chance_to_win(far, [*history, far])
    assert p_near is not None and p_far is not None
    assert p_near > 0.5 > 0.01 > p_far


def test_the_old_module_path_still_imports_with_a_deprecation_warning():
    import importlib
    import sys

    sys.modules.pop("tunehooks.optimizers.multifidelity", None)
    with pytest.warns(DeprecationWarning, match="tunehooks.optimizers.gp"):
        old = importlib.import_module("tunehooks.optimizers.multifidelity")
    assert old.MultiFidelityOptimizer is MultiFidelityOptimizer
    assert old.fidelity_observations is fidelity_observations


def test_a_fully_tried_finite_space_resumes_paused_trials_instead_of_restarting_one(
    ranked_table,
):
    # 12 configurations, a budget for many more trials: once every configuration has been
    # tried, a new trial would train a known configuration again from its first epoch
    n, epochs = 12, 9
    lc = ranked_table(n, epochs, seed=3)
    exp = th.Experiment.create(
        "finite",
        lc.space(),
        metrics=[lc.objective()],
        budget=th.Budget(cost=40),
        storage="memory://",
        method="bayes",
        seed=0,
        fidelity=th.Fidelity(min=1, max=epochs, eta=3),
    )
    simulate(exp, lc, workers=1)
    trials = exp.get_trials()
    tried = [t.params["i"] for t in trials]
    assert sorted(tried) == list(range(n))  # each configuration once, none trained again
    best = int(np.argmax(lc.curves[:, -1]))
    assert any(t.params["i"] == best and t.last_step == epochs for t in trials)
    # the budget (40 full trainings) covers every configuration trained in full: once the
    # promotion rule passes nothing more on, the paused trials are resumed, the best first
    assert all(t.state is TrialState.COMPLETED and t.last_step == epochs for t in trials)
