from __future__ import annotations

import numpy as np
import pytest

import tunehooks as th
from tunehooks import analysis as an
from tunehooks.analysis import Axis


def test_trace_counts_only_completed_full_fidelity_trials_meeting_constraints(
    scripted: th.Experiment,
) -> None:
    tr = an.best_so_far(scripted)
    # trials finish in order 0..6; 7 is still running and not on the trace
    assert tr.numbers == [0, 1, 2, 3, 4, 5, 6]
    assert tr.x == [1, 2, 3, 4, 5, 6, 7]
    # 1 violates the latency constraint, 5 ran at fidelity 2 of 4: neither is ever best
    assert tr.best == pytest.approx([0.80, 0.80, 0.80, 0.80, 0.83, 0.83, 0.90])
    assert tr.eligible == [True, False, False, False, True, False, True]
    assert tr.final_best == pytest.approx(scripted.best.value("acc"))


def test_trace_against_epochs_and_cost(scripted: th.Experiment) -> None:
    ep = an.best_so_far(scripted, axis="epochs")
    assert ep.x == [4, 8, 10, 10, 14, 16, 20]
    assert ep.best_at(9) == pytest.approx(0.80) and ep.best_at(3) is None
    cost = an.best_so_far(scripted, axis=Axis.COST)
    # full trainings: the pruned one used 2/4, the low-fidelity one 2/4, the failed one counts
    # as its assigned fidelity (Experiment.trial_cost)
    assert cost.x == pytest.approx([1, 2, 2.5, 3.5, 4.5, 5, 6])
    gpu = an.best_so_far(scripted, axis="gpu-hours", gpus_per_trial=2)
    trials = {t.number: t for t in scripted.get_trials()}
    hours = np.cumsum(
        [2 * (trials[n].finished_at - trials[n].started_at) / 3600 for n in gpu.numbers]
    )
    assert gpu.x == pytest.approx(hours.tolist())
    # without GPUs (nothing in the database says any were used): trial-hours only
    wall = an.best_so_far(scripted, axis="hours")
    assert wall.x == pytest.approx((hours / 2).tolist())
    with pytest.raises(ValueError, match="gpus_per_trial: GPU-hours need the number of GPUs"):
        an.best_so_far(scripted, axis="gpu-hours")
    with pytest.raises(ValueError, match="axis: expected one of"):
        an.best_so_far(scripted, axis="minutes")
    with pytest.raises(ValueError, match="'nope' is not one of"):
        an.best_so_far(scripted, metric="nope")


def test_cost_table(scripted: th.Experiment) -> None:
    c = an.cost_table(scripted, gpus_per_trial=1)
    assert (c.trials, c.completed, c.pruned, c.failed, c.running, c.queued) == (8, 5, 1, 1, 1, 0)
    assert c.epochs == 21  # 4+4+2+0+4+2+4 and the running trial's 1
    assert c.full_trainings == pytest.approx(7.0)
    assert c.first == pytest.approx(0.80) and c.best == pytest.approx(0.90)
    assert c.improvement == pytest.approx(0.10)
    # 10 points of 0.01
    assert c.trials_per_point == pytest.approx(0.8)
    assert c.epochs_per_point == pytest.approx(2.1)
    assert c.gpu_hours is not None and c.gpu_hours == pytest.approx(c.hours)
    assert c.gpu_hours_per_point == pytest.approx(c.gpu_hours / 10)
    rows = dict(c.rows())
    assert rows["completed / pruned / failed"] == "5 / 1 / 1"
    assert rows["improvement over the first design"] == "+0.1 (0.8 → 0.9)"
    assert rows["cost of each +0.01 acc of improvement"].startswith("0.8 trials · 2.1 epochs · ")
    assert rows["GPU-hours"].endswith("(1 GPU per trial)")
    assert rows["cost in full trainings"].startswith("7.00 ")
    # on the latency, the first eligible design (10 ms) stays the best: no cost per point
    flat = an.cost_table(scripted, metric="ms")
    assert (flat.first, flat.best, flat.improvement) == (10, 10, 0)
    assert flat.epochs_per_point is None
    assert dict(flat.rows())["improvement over the first design"] == "none yet"
    assert not any("per 0.01" in label for label, _ in flat.rows())


def test_cost_table_shows_gpu_hours_only_when_gpus_were_used(scripted: th.Experiment) -> None:
    cpu = an.cost_table(scripted)  # the database records no devices: none assumed
    assert cpu.gpu_hours is None and cpu.gpu_hours_per_point is None and cpu.hours > 0
    labels = [label for label, _ in cpu.rows()]
    assert not any("GPU" in label for label in labels), labels
    assert "trial-hours (wall clock, added up)" in labels
    assert "GPU-hours" not in dict(cpu.rows())["cost of each +0.01 acc of improvement"]
    two = an.cost_table(scripted, gpus_per_trial=2)
    assert two.gpu_hours == pytest.approx(2 * cpu.hours)
    with pytest.raises(ValueError, match="gpus_per_trial must be a positive number"):
        an.cost_table(scripted, gpus_per_trial=0)


def test_cost_table_for_a_minimized_metric_and_no_improvement(lr_sweep: th.Experiment) -> None:
    c = an.cost_table(lr_sweep, point=0.1)
    assert c.goal == "minimize" and c.improvement is not None and c.improvement > 0
    done = [t for t in lr_sweep.get_trials() if t.state is th.TrialState.COMPLETED]
    assert c.first == pytest.approx(done[0].values["loss"])
    assert c.best == pytest.approx(min(t.values["loss"] for t in done))
    assert (c.failed, c.pruned) == (2, 8)
    with pytest.raises(ValueError, match="point must be a positive"):
        an.cost_table(lr_sweep, point=0)


def test_importance_ranks_the_only_parameter_that_matters_first(lr_sweep: th.Experiment) -> None:
    imps = an.parameter_importance(lr_sweep)
    names = [i.name for i in imps]
    assert names[0] == "lr"
    assert set(names) == {"lr", "width", "opt", "momentum"}  # the constant is left out
    assert imps[0].value > 0.6
    assert all(i.value < 0.1 for i in imps[1:])
    # the same history, judged on the metric that depends only on width
    assert an.parameter_importance(lr_sweep, metric="ms")[0].name == "width"


def test_importance_of_a_categorical_and_a_conditional_parameter(
    storage_url: str, space: th.SearchSpace
) -> None:
    exp = th.Experiment.create(
        "cat",
        space,
        metrics=[th.Metric("y", goal="minimize")],
        budget=th.Budget(trials=40),
        storage=storage_url,
        method="sobol",
        seed=1,
    )
    for t in exp.ask_loop():
        p = t.params
        # adam is 1 worse; with sgd the momentum matters a bit
        y = (1.0 if p["opt"] == "adam" else 0.3 * p["momentum"]) + 0.001 * np.log(p["width"])
        t.complete({"y": y})
    imps = {i.name: i.value for i in an.parameter_importance(exp)}
    assert max(imps, key=imps.__getitem__) == "opt"
    assert imps["momentum"] > imps["lr"] and imps["momentum"] > imps["width"]


def test_importance_needs_enough_trials(scripted: th.Experiment) -> None:
    with pytest.raises(ValueError, match="at least 10 completed or pruned trials"):
        an.parameter_importance(scripted, min_trials=10)


def test_slices_show_the_trials_and_the_forest_mean(lr_sweep: th.Experiment) -> None:
    sl = an.slices(lr_sweep, top=2)
    assert sl[0].name == "lr"
    lr = sl[0]
    completed = [t for t in lr_sweep.get_trials() if t.state is th.TrialState.COMPLETED]
    assert len(lr.x) == len(completed)
    # the forest's mean is lowest near lr = 1e-2, the true optimum
    best_grid = lr.grid[int(np.argmin(lr.mean))]
    assert 1e-3 < best_grid < 1e-1
    opt = an.slices(lr_sweep, params=["opt"])[0]
    assert opt.categorical and opt.grid == ["sgd", "adam"]
    with pytest.raises(ValueError, match="'depth' is not a parameter"):
        an.slices(lr_sweep, params=["depth"])


def test_pareto_front_of_two_objectives(storage_url: str) -> None:
    exp = th.Experiment.create(
        "two",
        th.SearchSpace({"x": th.Float(0, 1)}),
        metrics=[
            th.Metric("acc", goal="maximize"),
            th.Metric("ms", goal="minimize"),
            th.Metric("mem", goal="minimize", strategy="constraint", threshold=100),
        ],
        budget=th.Budget(trials=7),
        storage=storage_url,
        method="random",
    )
    outcomes = [
        (0.9, 30, 10),
        (0.8, 10, 10),
        (0.7, 20, 10),
        (0.95, 50, 10),
        (0.99, 5, 500),
        (0.8, 10, 10),
    ]
    for (acc, ms, mem), t in zip(outcomes, exp.ask_loop(), strict=False):
        t.complete({"acc": acc, "ms": ms, "mem": mem})
    exp.ask().fail("x")
    res = an.pareto_front(exp)
    # 4 breaks the memory constraint; 2 is dominated by 1; 5 ties with 1 and is kept
    assert [t.number for t in res.front] == [1, 5, 0, 3]
    assert [t.number for t in res.others] == [2]
    assert {t.number for t in res.front} == {t.number for t in exp.pareto_front()}
    alt = an.pareto_front(exp, metrics=["ms", "mem"])
    assert [m.name for m in alt.metrics] == ["ms", "mem"]


def test_non_dominated() -> None:
    assert an.non_dominated([(1, 1), (1, 1), (0, 2), (0, 0)], [1, 1]) == [0, 1, 2]
    assert an.non_dominated([(1, 1), (0, 2), (0, 0)], [-1, -1]) == [2]
    assert an.non_dominated([], [1, 1]) == []


def test_compare_traces_median_and_quartiles(storage_url: str) -> None:
    runs = []
    for seed in range(3):
        exp = th.Experiment.create(
            f"r{seed}",
            th.SearchSpace({"x": th.Float(0, 1)}),
            metrics=[th.Metric("y", goal="minimize")],
            budget=th.Budget(trials=6),
            storage=storage_url,
            method="random",
            seed=seed,
        )
        for t in exp.ask_loop():
            t.complete({"y": t.params["x"]})
        runs.append(exp)
    (band,) = an.compare_traces({"random": runs})
    assert band.x == [1, 2, 3, 4, 5, 6] and band.runs == 3 and band.n == [3] * 6
    per_run = np.array([an.best_so_far(e).best for e in runs], dtype=float)
    assert band.median == pytest.approx(np.median(per_run, axis=0).tolist())
    assert band.q25 == pytest.approx(np.percentile(per_run, 25, axis=0).tolist())
    assert band.q75 == pytest.approx(np.percentile(per_run, 75, axis=0).tolist())
    assert all(
        a <= b for a, b in zip(band.median[1:], band.median[:-1], strict=True)
    )  # minimizing: never worse
    cost = an.compare_traces({"a": runs[:1], "b": runs[1:]}, axis="cost", points=11)
    assert [len(b.x) for b in cost] == [11, 11] and cost[0].x[-1] == 6


def test_exports_json_and_curves(scripted: th.Experiment, tmp_path) -> None:
    import csv
    import json

    data = scripted.to_json(tmp_path / "t.json")
    assert json.loads((tmp_path / "t.json").read_text()) == json.loads(json.dumps(data))
    by_number = {t["number"]: t for t in data["trials"]}
    assert by_number[2]["state"] == "PRUNED" and len(by_number[2]["reports"]) == 2
    assert by_number[3]["error"].startswith("RuntimeError")
    assert by_number[0]["reports"][-1] == {"step": 4, "acc": pytest.approx(0.75), "ms": 10}
    assert by_number[0]["params"] == scripted.get_trials()[0].params
    assert an.write_json(scripted, tmp_path / "u.json") == 8
    n = an.curves_csv(scripted, tmp_path / "c.csv")
    rows = list(csv.DictReader((tmp_path / "c.csv").open()))
    assert n == len(rows) == 2 * (4 + 4 + 2 + 4 + 2 + 4 + 1)
    assert {r["metric"] for r in rows} == {"acc", "ms"}
    df = scripted.to_dataframe()
    assert len(df) == 8 and "param_lr" in df.columns


def test_importance_matches_the_variance_decomposition_of_a_linear_objective(
    storage_url: str,
) -> None:
    """y = a + 2 b on the unit square: a explains 1/5 of the variance, b 4/5, c nothing."""
    exp = th.Experiment.create(
        "linear",
        th.SearchSpace({"a": th.Float(0, 1), "b": th.Float(0, 1), "c": th.Float(0, 1)}),
        metrics=[th.Metric("y", goal="minimize")],
        budget=th.Budget(trials=80),
        storage=storage_url,
        method="sobol",
    )
    for t in exp.ask_loop():
        t.complete({"y": t.params["a"] + 2 * t.params["b"]})
    imps = {i.name: i for i in an.parameter_importance(exp)}
    assert imps["b"].value == pytest.approx(0.8, abs=0.12)
    assert imps["a"].value == pytest.approx(0.2, abs=0.08)
    assert imps["c"].value < 0.03
    assert sum(i.value for i in imps.values()) <= 1.0


def test_pareto_front_and_hypervolume_of_three_objectives(storage_url: str) -> None:
    exp = th.Experiment.create(
        "three",
        th.SearchSpace({"x": th.Float(0, 1)}),
        metrics=[
            th.Metric("acc", goal="maximize"),
            th.Metric("ms", goal="minimize"),
            th.Metric("mb", goal="minimize"),
        ],
        budget=th.Budget(trials=5),
        storage=storage_url,
        method="random",
    )
    outcomes = [(0.9, 30, 5), (0.8, 10, 5), (0.8, 10, 1), (0.7, 40, 9), (0.95, 50, 9)]
    for (acc, ms, mb), t in zip(outcomes, exp.ask_loop(), strict=True):
        t.complete({"acc": acc, "ms": ms, "mb": mb})
    res = an.pareto_front(exp)
    assert [m.name for m in res.metrics] == ["acc", "ms", "mb"]
    # 1 is dominated by 2 (same acc and ms, less memory); 3 by every other
    assert [t.number for t in res.front] == [2, 0, 4]
    assert {t.number for t in res.front} == {t.number for t in exp.pareto_front()}
    assert len(res.points(res.front)[0]) == 3
    ref = (0.5, 60.0, 10.0)
    tr = an.hypervolume_trace(exp, ref=ref)
    assert tr.numbers == [0, 1, 2, 3, 4] and tr.values == sorted(tr.values)
    pts = [(0.9, 30, 5), (0.8, 10, 1), (0.95, 50, 9)]
    # inclusion-exclusion by hand is long; the same volume from the front only
    assert tr.values[-1] == pytest.approx(an.hypervolume(pts, ref, (1, -1, -1)))
    assert an.hypervolume([(0.8, 10, 1)], ref, (1, -1, -1)) == pytest.approx(0.3 * 50 * 9)
    fig = an.pareto_figure(res)  # the first two metrics, front marked
    assert "acc, ms, mb" in fig.axes[0].get_title()


def test_hypervolume_matches_monte_carlo_in_four_dimensions() -> None:
    rng = np.random.default_rng(0)
    pts = rng.random((12, 4))
    exact = an.hypervolume(pts.tolist(), (0.0,) * 4, (1,) * 4)
    U = rng.random((200_000, 4))
    covered = (U[:, None, :] <= pts[None, :, :]).all(-1).any(-1).mean()
    assert exact == pytest.approx(covered, abs=0.005)
