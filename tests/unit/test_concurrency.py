"""Many processes on one SQLite file: atomic asks, no lost writes, no lock errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import tunehooks as th

WORKER = textwrap.dedent(
    """
    import sys, tunehooks as th
    exp = th.Experiment.load("conc", storage=sys.argv[1])
    n = 0
    for trial in exp.ask_loop(worker_id=sys.argv[2]):
        for step in range(1, 21):
            trial.report(step, {"y": trial.params["x"] * step})
        trial.complete({"y": trial.params["x"]})
        n += 1
    print(n)
    """
)


@pytest.mark.slow
def test_eight_processes_ask_report_and_complete_concurrently(storage_url: str) -> None:
    exp = th.Experiment.create(
        "conc",
        th.SearchSpace({"x": th.Float(0.0, 1.0), "k": th.Categorical(["a", "b", "c"])}),
        metrics=[th.Metric("y", goal="maximize")],
        budget=th.Budget(trials=48),
        storage=storage_url,
        method="random",
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, storage_url, f"w{i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err
    assert sum(int(out) for out, _ in outs) == 48

    trials = exp.get_trials()
    assert len(trials) == 48
    assert sorted(t.number for t in trials) == list(range(48))
    assert len({t.id for t in trials}) == 48
    assert len({repr(sorted(t.params.items())) for t in trials}) == 48
    assert all(t.state is th.TrialState.COMPLETED for t in trials)
    assert all([r.step for r in t.reports] == list(range(1, 21)) for t in trials)
    assert all(t.values["y"] == t.params["x"] for t in trials)
    assert len({t.worker_id for t in trials}) > 1
