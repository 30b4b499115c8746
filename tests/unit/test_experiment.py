from __future__ import annotations

import csv
import math

import pytest

import tunehooks as th
from tunehooks.storage import DuplicateExperimentError, ExperimentNotFoundError


def space() -> th.SearchSpace:
    return th.SearchSpace(
        {
            "x": th.Float(-2.0, 2.0),
            "opt": th.Categorical(["sgd", "adam"]),
            "m": th.Float(0.0, 0.9, condition={"opt": ["sgd"]}),
        }
    )


def make(storage_url: str, name: str = "e", **kw) -> th.Experiment:
    kw.setdefault("metrics", [th.Metric("loss", goal="minimize")])
    kw.setdefault("budget", th.Budget(trials=6))
    kw.setdefault("method", "random")
    return th.Experiment.create(name, space(), storage=storage_url, **kw)


def test_trials_loop_spends_the_budget_and_finds_best(storage_url: str) -> None:
    exp = make(storage_url)
    for trial in exp.ask_loop():
        trial.complete({"loss": trial.params["x"] ** 2})
    trials = exp.get_trials()
    assert len(trials) == 6 and all(t.state is th.TrialState.COMPLETED for t in trials)
    best = exp.best
    assert best is not None
    assert best.values["loss"] == min(t.values["loss"] for t in trials)
    assert exp.ask() is None and exp.is_done


def test_load_from_another_handle_and_duplicates(storage_url: str) -> None:
    exp = make(storage_url)
    again = th.Experiment.load("e", storage=storage_url)
    assert again.space == exp.space and again.metrics == exp.metrics
    assert again.budget == exp.budget and again.method is th.Method.RANDOM
    with pytest.raises(DuplicateExperimentError):
        make(storage_url)
    assert make(storage_url, load_if_exists=True).id == exp.id
    with pytest.raises(ValueError, match="different seed"):
        make(storage_url, load_if_exists=True, seed=99)
    with pytest.raises(ExperimentNotFoundError, match="known: \\['e'\\]"):
        th.Experiment.load("nope", storage=storage_url)


def test_enqueued_configs_run_first_and_are_validated(storage_url: str) -> None:
    exp = make(storage_url)
    exp.enqueue({"x": 0.5, "opt": "adam"})
    with pytest.raises(th.SpaceError, match="m: is inactive"):
        exp.enqueue({"x": 0.5, "opt": "adam", "m": 0.1})
    first = exp.ask()
    assert first is not None and first.params == {"x": 0.5, "opt": "adam"}


def test_conditional_params_absent_from_trials(storage_url: str) -> None:
    exp = make(storage_url, budget=th.Budget(trials=30))
    for trial in exp.ask_loop():
        assert ("m" in trial.params) == (trial.params["opt"] == "sgd")
        trial.complete({"loss": 1.0})


def test_nan_result_fails_the_trial_and_is_never_best(storage_url: str) -> None:
    exp = make(storage_url, budget=th.Budget(trials=3))
    t1, t2 = exp.ask(), exp.ask()
    assert t1 is not None and t2 is not None
    rec = t1.complete({"loss": float("nan")})
    assert rec.state is th.TrialState.FAILED and "nan" in (rec.error or "")
    t2.complete({"loss": 5.0})
    assert exp.best is not None and exp.best.id == t2.id


def test_nan_report_fails_trial_and_stops(storage_url: str) -> None:
    exp = make(storage_url)
    trial = exp.ask()
    assert trial is not None
    assert trial.report(1, {"loss": 1.0}) is th.Decision.CONTINUE
    assert trial.report(2, {"loss": math.inf}) is th.Decision.STOP
    assert trial.should_stop and trial.state is th.TrialState.FAILED
    assert "'loss' is inf at step 2" in (trial.record.error or "")
    with pytest.raises(th.TrialStateError):
        trial.report(3, {"loss": 1.0})


def test_complete_without_values_uses_last_reports(storage_url: str) -> None:
    exp = make(storage_url)
    trial = exp.ask()
    assert trial is not None
    trial.report(1, {"loss": 3.0})
    trial.report(2, {"loss": 2.0})
    assert trial.complete().values == {"loss": 2.0}
    bare = exp.ask()
    assert bare is not None
    rec = bare.complete()
    assert rec.state is th.TrialState.FAILED and "optimized metric 'loss'" in (rec.error or "")


def test_best_respects_goal_and_constraints(storage_url: str) -> None:
    exp = make(
        storage_url,
        metrics=[
            th.Metric("acc", goal="maximize"),
            th.Metric("latency", goal="minimize", strategy="constraint", threshold=10),
            th.Metric("notes", strategy="store"),
        ],
        budget=th.Budget(trials=3),
    )
    a, b, c = exp.ask(), exp.ask(), exp.ask()
    assert a and b and c
    a.complete({"acc": 0.99, "latency": 50.0})  # best accuracy but infeasible
    b.complete({"acc": 0.90, "latency": 5.0})
    c.complete({"acc": 0.80, "latency": 1.0, "notes": 7})
    assert exp.best is not None and exp.best.id == b.id


def test_pareto_front_for_two_objectives(storage_url: str) -> None:
    exp = make(
        storage_url,
        metrics=[th.Metric("acc", goal="maximize"), th.Metric("size", goal="minimize")],
        budget=th.Budget(trials=4),
    )
    values = [(0.9, 10.0), (0.8, 5.0), (0.7, 20.0), (0.95, 30.0)]
    for trial, (acc, size) in zip(exp.ask_loop(), values, strict=True):
        trial.complete({"acc": acc, "size": size})
    front = sorted(t.values["acc"] for t in exp.pareto_front())
    assert front == [0.8, 0.9, 0.95]
    with pytest.raises(ValueError, match="pareto_front"):
        _ = exp.best


def test_loop_settles_trials_left_running(storage_url: str) -> None:
    exp = make(storage_url, budget=th.Budget(trials=2))
    states = []
    for i, trial in enumerate(exp.ask_loop()):
        if i == 0:
            trial.report(1, {"loss": 0.5})  # reported, never completed
        states.append(trial)
    recs = exp.get_trials()
    assert recs[0].state is th.TrialState.COMPLETED and recs[0].values == {"loss": 0.5}
    assert recs[1].state is th.TrialState.FAILED


def test_pruned_trial_keeps_its_curve(storage_url: str) -> None:
    exp = make(storage_url)
    trial = exp.ask()
    assert trial is not None
    for step in (1, 2, 3):
        trial.report(step, {"loss": 1.0 / step})
    rec = trial.prune()
    assert rec.state is th.TrialState.PRUNED and [r.step for r in rec.reports] == [1, 2, 3]
    assert rec.values == {"loss": 1.0 / 3}


def test_failed_trial_records_the_exception(storage_url: str) -> None:
    exp = make(storage_url)
    trial = exp.ask()
    assert trial is not None
    rec = trial.fail(RuntimeError("CUDA out of memory"))
    assert rec.state is th.TrialState.FAILED and rec.error == "RuntimeError: CUDA out of memory"


def test_csv_and_records_export(storage_url: str, tmp_path) -> None:
    exp = make(storage_url, budget=th.Budget(trials=3))
    for trial in exp.ask_loop():
        trial.report(1, {"loss": 2.0})
        trial.complete({"loss": 1.0})
    path = tmp_path / "t.csv"
    assert exp.to_csv(path) == 3
    rows = list(csv.DictReader(path.open()))
    assert [r["state"] for r in rows] == ["COMPLETED"] * 3
    assert {"param_x", "param_opt", "metric_loss", "steps"} <= set(rows[0])
    df = exp.to_dataframe()
    assert len(df) == 3 and (df["metric_loss"] == 1.0).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metrics": []}, "at least one Metric"),
        ({"budget": None}, "needs a budget"),
        ({"method": "annealing"}, "method: expected one of"),
        ({"metrics": [th.Metric("a", goal="maximize")] * 2}, "duplicate names"),
    ],
)
def test_invalid_experiment_settings(storage_url: str, kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(storage_url, **kwargs)


def test_metric_validation() -> None:
    with pytest.raises(ValueError, match="goal is required"):
        th.Metric("acc")
    with pytest.raises(ValueError, match="needs a threshold"):
        th.Metric("lat", goal="minimize", strategy="constraint")
    with pytest.raises(ValueError, match="goal: expected one of"):
        th.Metric("acc", goal="up")
    assert th.Metric("loss", strategy="store").goal is None
    with pytest.raises(ValueError, match="positive integer"):
        th.Budget(trials=0)


def test_an_exception_in_the_loop_body_fails_the_trial_even_after_reports(
    storage_url: str,
) -> None:
    exp = make(storage_url, budget=th.Budget(trials=3))

    def train() -> None:
        for trial in exp.ask_loop():
            trial.report(1, {"loss": 0.5})
            raise RuntimeError("CUDA out of memory")

    with pytest.raises(RuntimeError, match="CUDA out of memory"):
        train()
    (rec,) = exp.get_trials()
    assert rec.state is th.TrialState.FAILED
    assert rec.error is not None and "loop was left" in rec.error
    assert exp.best is None


def test_a_loop_body_that_reports_without_completing_completes_from_reports(
    storage_url: str,
) -> None:
    exp = make(storage_url, budget=th.Budget(trials=2))
    for trial in exp.ask_loop():
        trial.report(1, {"loss": 0.7})
        trial.report(2, {"loss": 0.4})
    recs = exp.get_trials()
    assert [r.state for r in recs] == [th.TrialState.COMPLETED] * 2
    assert all(r.values == {"loss": 0.4} for r in recs)


def test_continuing_with_a_grown_budget_runs_only_the_new_trials(storage_url: str) -> None:
    exp = make(storage_url, budget=th.Budget(trials=3))
    for trial in exp.ask_loop():
        trial.complete({"loss": trial.params["x"] ** 2})
    again = make(storage_url, budget=th.Budget(trials=5), load_if_exists=True)
    assert again.id == exp.id and again.budget == th.Budget(trials=5)
    done = [t.complete({"loss": 1.0}) for t in again.ask_loop()]
    assert len(done) == 2 and len(again.get_trials()) == 5
    # the stored budget is the new one for every later reader
    assert th.Experiment.load("e", storage=storage_url).budget == th.Budget(trials=5)


def test_continuing_with_other_settings_names_what_differs(storage_url: str) -> None:
    make(storage_url)
    with pytest.raises(th.ConfigMismatchError, match=r"different metrics, seed; only the budget"):
        make(
            storage_url,
            metrics=[th.Metric("acc", goal="maximize")],
            seed=7,
            load_if_exists=True,
        )
    assert th.Experiment.load("e", storage=storage_url).metrics[0].name == "loss"


def test_without_a_seed_an_experiment_draws_one_stores_it_and_continues_it(
    storage_url: str,
) -> None:
    a = make(storage_url, "a", method="sobol")
    b = make(storage_url, "b", method="sobol")
    assert a.seed != b.seed  # two sweeps do not propose the same first trials
    first_a, first_b = a.ask(), b.ask()
    assert first_a is not None and first_b is not None and first_a.params != first_b.params
    first_a.complete({"loss": 1.0})
    assert th.Experiment.load("a", storage=storage_url).seed == a.seed
    # a relaunch without a seed keeps the stored one and continues its sequence
    again = make(storage_url, "a", method="sobol", load_if_exists=True)
    assert again.id == a.id and again.seed == a.seed
    twin = make(storage_url, "twin", method="sobol", seed=a.seed)
    t1 = twin.ask()
    assert t1 is not None and t1.params == first_a.params
    t1.complete({"loss": 1.0})
    nxt, nxt_twin = again.ask(), twin.ask()
    assert nxt is not None and nxt_twin is not None and nxt.params == nxt_twin.params


def test_an_explicit_seed_reproduces_the_suggestions(storage_url: str) -> None:
    x = make(storage_url, "x", seed=5)
    y = make(storage_url, "y", seed=5)
    assert x.seed == y.seed == 5
    px = [t.params for t in (x.ask(), x.ask()) if t is not None]
    py = [t.params for t in (y.ask(), y.ask()) if t is not None]
    assert len(px) == 2 and px == py
