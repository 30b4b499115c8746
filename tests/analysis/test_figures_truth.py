"""The figures tell the truth: each checked on the data it draws (log axes for log
parameters, labelled ticks and a colour bar, importance with its uncertainty and a
warning on too few trials, pruned trials used at their fidelity)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tunehooks as th
from tunehooks import analysis as an


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_slices_put_log_parameters_on_log_axes(lr_sweep: th.Experiment) -> None:
    sl = {s.name: s for s in an.slices(lr_sweep, params=["lr", "width", "momentum", "opt"])}
    assert sl["lr"].log and sl["width"].log  # Float(log=True), Int(log=True)
    assert not sl["momentum"].log and not sl["opt"].log
    # the grid covers the decades evenly: as many points below 1e-2 as above
    grid = np.log10(np.asarray(sl["lr"].grid, dtype=float))
    assert grid.min() < -3.5 and grid.max() > -0.5
    assert abs(np.sum(grid < -2) - np.sum(grid > -2)) <= 2
    fig = an.slices_figure([sl["lr"], sl["width"], sl["momentum"]], metric="loss")
    assert [ax.get_xscale() for ax in fig.axes] == ["log", "log", "linear"]
    # log even when the trials happen to span less than a decade and a half
    narrow = an.Slice("lr", False, [0.01, 0.02], [1.0, 2.0], [0, 1], [], [], log=True)
    assert an.slices_figure([narrow]).axes[0].get_xscale() == "log"


def test_parallel_coordinates_label_their_axes_and_have_a_colour_bar(
    lr_sweep: th.Experiment,
) -> None:
    fig = an.parallel_coordinates_figure(lr_sweep, top=5)
    main, bar = fig.axes  # the plot and its colour bar
    assert "loss" in bar.get_ylabel()
    best5 = sorted(
        t.values["loss"] for t in lr_sweep.get_trials() if t.state is th.TrialState.COMPLETED
    )[:5]
    lo, hi = bar.get_ylim()
    assert lo == pytest.approx(best5[0]) and hi == pytest.approx(best5[-1])
    labels = texts(main)
    # lr is Float(1e-4, 1, log=True): ticks at every decade, evenly spaced on the axis
    ticks = dict((label, pos) for pos, label in an.figures.axis_ticks(lr_sweep, "lr"))
    assert list(ticks) == ["0.0001", "0.001", "0.01", "0.1", "1"]
    assert [ticks[k] for k in ticks] == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    for label in ticks:
        assert label in labels
    assert "sgd" in labels and "adam" in labels  # categorical choices
    assert "8" in labels and "128" in labels  # width's ends
    # the metric axis is labelled with its values
    done = [t.values["loss"] for t in lr_sweep.get_trials() if t.state is th.TrialState.COMPLETED]
    assert an.figures.format_number(min(done)) in labels


def test_importance_carries_its_uncertainty_and_warns_below_enough_trials(
    storage_url: str, space: th.SearchSpace
) -> None:
    exp = th.Experiment.create(
        "few",
        space,
        metrics=[th.Metric("y", goal="minimize")],
        budget=th.Budget(trials=6),
        storage=storage_url,
        method="sobol",
    )
    for t in exp.ask_loop():
        t.complete({"y": math.log10(t.params["lr"]) ** 2})
    imps = an.parameter_importance(exp)
    assert all(i.n_trials == 6 for i in imps)
    assert all(i.std > 0 for i in imps if i.value > 0)
    warning = an.importance_warning(imps)
    assert warning is not None and "only 6 trials" in warning and "about 20" in warning
    fig = an.importance_figure(imps, metric="y", warning=warning)
    ax = fig.axes[0]
    assert any(warning in t for t in texts(ax))
    # every bar is labelled with its value and its spread, and has an error bar
    for i in imps:
        assert f"{an.figures.format_number(i.value, digits=2)} ± " in " ".join(texts(ax))
    assert "(6 trials)" in ax.get_title()
    html = an.report_html(exp)
    assert 'class="warning" id="importance-warning"' in html and "only 6 trials" in html


def test_no_warning_with_enough_trials(lr_sweep: th.Experiment) -> None:
    imps = an.parameter_importance(lr_sweep)
    assert imps[0].n_trials == 38 and an.importance_warning(imps) is None
    assert 'id="importance-warning"' not in an.report_html(lr_sweep)


def test_importance_uses_pruned_trials_at_their_fidelity(lr_sweep: th.Experiment) -> None:
    imps = an.parameter_importance(lr_sweep)
    # 30 completed and the 8 pruned trials (at step 2 of 5); the 2 failed ones are left out
    assert (imps[0].n_trials, imps[0].n_pruned) == (38, 8)
    assert imps[0].name == "lr"
    # the forest sees each trial at the step it reached: a fidelity column
    X, _, names, fmax, n_pruned = an.importance._training_set(
        lr_sweep, "loss", lr_sweep.get_trials()
    )
    assert names[-1] == "(fidelity)" and fmax == 5 and n_pruned == 8
    assert sorted(set(np.round(X[:, -1], 3))) == [0.4, 1.0]  # step 2 of 5, and full


def test_report_page_says_what_the_importance_rests_on(lr_sweep: th.Experiment) -> None:
    html = an.report_html(lr_sweep)
    assert "A random forest of 38 trials (30 completed, 8 pruned ones at the step they" in html
