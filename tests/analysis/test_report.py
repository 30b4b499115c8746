from __future__ import annotations

import base64
import os
import re
import sqlite3
import subprocess
import sys
import textwrap

import pytest

import tunehooks as th
from tunehooks import analysis as an
from tunehooks.storage import StorageError

PNG = b"\x89PNG\r\n\x1a\n"
FIGURES_ONE_METRIC = ["trace", "curves", "parallel", "importance", "slices"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunehooks.cli", *args], capture_output=True, text=True, timeout=300
    )


def figures_in(html: str) -> dict[str, bytes]:
    found = re.findall(
        r'<figure id="fig-(\w+)" data-figure="\w+"><img alt="[^"]*" '
        r'src="data:image/png;base64,([A-Za-z0-9+/=]+)">',
        html,
    )
    return {key: base64.b64decode(data) for key, data in found}


def test_every_figure_renders_from_python(lr_sweep: th.Experiment) -> None:
    figs = {
        "trace": an.trace_figure(lr_sweep),
        "curves": an.learning_curves_figure(lr_sweep),
        "parallel": an.parallel_coordinates_figure(lr_sweep, top=5),
        "importance": an.importance_figure(an.parameter_importance(lr_sweep)),
        "slices": an.slices_figure(an.slices(lr_sweep)),
        "pareto": an.pareto_figure(an.pareto_front(lr_sweep)),
    }
    for name, fig in figs.items():
        assert an.to_png(fig).startswith(PNG), name
    assert an.to_svg(figs["trace"]).lstrip().startswith("<?xml")
    # trials, epochs and trial-hours side by side; GPU-hours only when GPUs were used
    assert [ax.get_xlabel() for ax in figs["trace"].axes] == [
        "trials finished",
        "epochs trained",
        "trial-hours (wall clock)",
    ]
    on_gpus = an.trace_figure(lr_sweep, gpus_per_trial=2)
    assert on_gpus.axes[2].get_xlabel() == "GPU-hours"
    assert len(figs["slices"].axes) == 3


def test_learning_curves_mark_pruned_trials(lr_sweep: th.Experiment) -> None:
    fig = an.learning_curves_figure(lr_sweep)
    lines = fig.axes[0].get_lines()
    pruned = [t for t in lr_sweep.get_trials() if t.state is th.TrialState.PRUNED]
    marks = [ln for ln in lines if ln.get_marker() == "x"]
    assert len(pruned) == 8 and len(marks) == 8
    # each mark sits where its trial stopped: step 2
    assert {float(m.get_xdata()[0]) for m in marks} == {2.0}
    dashed = [ln for ln in lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 8
    # 30 completed and 8 pruned curves; the failed trials reported nothing
    assert len([ln for ln in lines if ln.get_marker() != "x"]) == 38


def test_figures_of_an_empty_experiment(storage_url: str) -> None:
    exp = th.Experiment.create(
        "empty",
        th.SearchSpace({"x": th.Float(0, 1)}),
        metrics=[th.Metric("y", goal="minimize")],
        budget=th.Budget(trials=3),
        storage=storage_url,
        method="random",
    )
    html = an.report_html(exp)
    assert set(figures_in(html)) == set(FIGURES_ONE_METRIC)
    assert "importance needs at least 4 completed or pruned trials" in html


def test_report_holds_every_figure_and_the_cost_table(lr_sweep: th.Experiment, tmp_path) -> None:
    out = an.write_report(lr_sweep, tmp_path / "r.html")
    with open(out, encoding="utf-8") as f:
        html = f.read()
    figs = figures_in(html)
    assert set(figs) == {*FIGURES_ONE_METRIC, "pareto"}  # two optimized metrics
    assert all(png.startswith(PNG) and len(png) > 5000 for png in figs.values())
    assert 'id="table-cost"' in html and 'id="table-best"' in html
    assert "<td>completed / pruned / failed</td><td>30 / 8 / 2</td>" in html
    # self-contained: nothing is fetched
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html


def test_report_escapes_names(storage_url: str, tmp_path) -> None:
    exp = th.Experiment.create(
        "<b>bold</b>",
        th.SearchSpace({"x": th.Categorical(["<i>", "ok"])}),
        metrics=[th.Metric("y", goal="minimize")],
        budget=th.Budget(trials=2),
        storage=storage_url,
        method="grid",
    )
    for t in exp.ask_loop():
        t.complete({"y": 1.0})
    html = an.report_html(exp)
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<td>&lt;i&gt;</td>" in html


@pytest.mark.slow
def test_cli_report_and_compare(scripted: th.Experiment, tmp_path) -> None:
    url = scripted.storage.url
    for seed in range(2):
        for method in ("random", "sobol"):
            exp = th.Experiment.create(
                f"{method}-{seed}",
                th.SearchSpace({"x": th.Float(0, 1)}),
                metrics=[th.Metric("acc", goal="maximize")],
                budget=th.Budget(trials=5),
                storage=url,
                method=method,
                seed=seed,
            )
            for t in exp.ask_loop():
                t.complete({"acc": t.params["x"]})
    out = cli("report", "scripted", "--storage", url, "--out", str(tmp_path / "r.html"))
    assert out.returncode == 0, out.stderr
    assert set(figures_in((tmp_path / "r.html").read_text())) == {
        *FIGURES_ONE_METRIC,
        "pareto",  # acc against the latency constraint
    }
    out = cli("compare", "random-*", "sobol-*", "--storage", url, "--out", str(tmp_path / "c.html"))
    assert out.returncode == 0, out.stderr
    assert "compared 4 experiments" in out.stdout
    html = (tmp_path / "c.html").read_text()
    assert set(figures_in(html)) == {"compare"}
    assert "<td>random-*</td><td>2</td>" in html and "<td>sobol-*</td><td>2</td>" in html
    out = cli("compare", "random-0", "--storage", url, "--out", str(tmp_path / "c.png"))
    assert out.returncode == 0 and (tmp_path / "c.png").read_bytes().startswith(PNG)
    out = cli("compare", "bayes-*", "--storage", url, "--out", str(tmp_path / "c.png"))
    assert out.returncode == 2 and "no experiment matches 'bayes-*'" in out.stderr
    out = cli("compare", "random-*", "--storage", url, "--out", str(tmp_path / "c.pdf"))
    assert out.returncode == 2 and ".png, .svg or .html" in out.stderr
    out = cli("report", "nope", "--storage", url, "--out", str(tmp_path / "x.html"))
    assert out.returncode == 2 and "no experiment 'nope'" in out.stderr
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    out = cli("report", "--storage", missing, "--out", str(tmp_path / "x.html"))
    assert out.returncode == 2 and "no database at" in out.stderr
    assert not (tmp_path / "missing.db").exists()  # a report creates nothing


HOLD_WRITE_LOCK = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
    conn.execute("BEGIN IMMEDIATE")  # the database's write lock, as a worker's write holds it
    conn.execute("UPDATE trials SET heartbeat_at = 1.0 WHERE state = 'RUNNING'")
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("COMMIT")
    print("committed", flush=True)
    """
)


@pytest.mark.slow
def test_report_on_a_running_experiment_reads_only_and_waits_for_no_lock(
    scripted: th.Experiment, tmp_path
) -> None:
    url = scripted.storage.url
    path = url.removeprefix("sqlite:///")
    before = sqlite3.connect(path).execute("SELECT count(*) FROM reports").fetchone()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "locked"
        # while another process holds the write lock (and trial 7 is RUNNING)
        out = cli("report", "scripted", "--storage", url, "--out", str(tmp_path / "r.html"))
        assert out.returncode == 0, out.stderr
        html = (tmp_path / "r.html").read_text()
        assert "<td>running / queued</td><td>1 / 0</td>" in html
        ro = an.open_readonly("scripted", storage=url)
        assert [t.state for t in ro.get_trials()][-1] is th.TrialState.RUNNING
        with pytest.raises(StorageError, match="read-only"):
            ro.enqueue({"lr": 0.1, "width": 16, "opt": "adam", "seed": 0})
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "committed"
    finally:
        holder.kill()
        holder.wait()
    after = sqlite3.connect(path).execute("SELECT count(*) FROM reports").fetchone()
    assert before == after
    # the worker goes on: the running trial still accepts reports and completes
    trial = scripted.trial_handle(scripted.get_trials()[-1].id)
    trial.report(2, {"acc": 0.5, "ms": 10})
    assert trial.complete().state is th.TrialState.COMPLETED


def test_read_only_open_of_a_closed_sweep(scripted: th.Experiment) -> None:
    """Once every worker closed the database (its WAL checkpointed away), the report still
    opens it read-only."""
    path = scripted.storage.url.removeprefix("sqlite:///")
    scripted.storage.close()
    assert not os.path.exists(path + "-wal")
    ro = an.open_readonly(storage=scripted.storage.url)  # the only experiment in the file
    assert ro.name == "scripted" and len(ro.get_trials()) == 8
    assert an.cost_table(ro).best == pytest.approx(0.90)


def test_learning_curves_show_where_a_running_trial_is(scripted: th.Experiment) -> None:
    lines = an.learning_curves_figure(scripted).axes[0].get_lines()
    (dot,) = [ln for ln in lines if ln.get_marker() == "o"]
    assert (float(dot.get_xdata()[0]), float(dot.get_ydata()[0])) == (1.0, 0.4)
    (x,) = [ln for ln in lines if ln.get_marker() == "x"]  # trial 2, pruned after 2 epochs
    assert (float(x.get_xdata()[0]), float(x.get_ydata()[0])) == (2.0, 0.5)
    assert {
        t.get_text() for t in an.learning_curves_figure(scripted).axes[0].get_legend().texts
    } == {
        "completed",
        "pruned",
        "running",
    }
