"""PostgreSQL: the storage conformance suite, and many processes on one experiment."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tunehooks as th
from tunehooks.testing.storage_conformance import StorageConformance

pytestmark = pytest.mark.postgres


class TestPostgres(StorageConformance):
    @pytest.fixture
    def storage_url(self, pg_url: str) -> str:
        return pg_url


REPORTER = textwrap.dedent(
    """
    import os, sys, time
    import tunehooks as th
    url, go = sys.argv[1], sys.argv[2]
    exp = th.Experiment.load("many", storage=url)
    while not os.path.exists(go):  # start together
        time.sleep(0.01)
    trial = exp.ask(worker_id=f"w{os.getpid()}")
    for step in range(1, 51):
        trial.report(step, {"y": trial.number * 1000 + step})
    trial.complete()
    print(trial.number)
    """
)


@pytest.mark.slow
def test_16_processes_report_50_steps_each_with_no_lost_or_duplicated_report(
    pg_url: str, tmp_path: Path
) -> None:
    exp = th.Experiment.create(
        "many",
        th.SearchSpace({"x": th.Float(0.0, 1.0)}),
        metrics=[th.Metric("y", goal="maximize")],
        budget=th.Budget(trials=16),
        storage=pg_url,
        method="random",
    )
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", REPORTER, pg_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(16)
    ]
    time.sleep(1.0)
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    assert sorted(int(out) for out, _ in outs) == list(range(16))

    trials = exp.get_trials()
    assert len(trials) == 16 and all(t.state is th.TrialState.COMPLETED for t in trials)
    for t in trials:
        assert [r.step for r in t.reports] == list(range(1, 51))
        assert [r.metrics["y"] for r in t.reports] == [t.number * 1000 + s for s in range(1, 51)]
    assert len({t.worker_id for t in trials}) == 16

    import sqlalchemy as sa

    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        n, distinct = conn.execute(
            sa.text("SELECT count(*), count(DISTINCT (trial_id, step)) FROM reports")
        ).one()
    engine.dispose()
    assert (n, distinct) == (800, 800)


SCRIPT = """
import argparse, json, os, time
p = argparse.ArgumentParser()
p.add_argument("--x", type=float)
a = p.parse_args()
while not os.path.exists("go"):  # until both launchers run trials
    time.sleep(0.05)
for step in (1, 2):
    print("tunehooks: " + json.dumps({"step": step, "y": a.x * step}))
"""

SWEEP = """
name: shared
program: train.py
command: ["${interpreter}", "${program}", "${args}"]
method: random
metric: {name: y, goal: maximize}
parameters: {x: {min: 0.0, max: 1.0}}
budget: {trials: 10}
resources: {workers: 2, gpus_per_trial: 0}
"""


@pytest.mark.slow
def test_two_launchers_share_one_experiment_like_two_hosts(pg_url: str, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(SCRIPT)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    cmd = [sys.executable, "-m", "tunehooks.cli", "launch", "sweep.yaml", "--storage", pg_url]
    procs = [
        subprocess.Popen(
            [*cmd, "--runs-dir", f"runs-{i}"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "go").exists():
        try:
            running = th.Experiment.load("shared", storage=pg_url).get_trials()
        except Exception:  # not created yet
            running = []
        if len({(t.worker_id or "").split("/")[0] for t in running}) == 2:
            (tmp_path / "go").touch()
        time.sleep(0.2)
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    trials = th.Experiment.load("shared", storage=pg_url).get_trials()
    assert len(trials) == 10 and all(t.state is th.TrialState.COMPLETED for t in trials)
    assert sorted(t.number for t in trials) == list(range(10))
    launchers = {(t.worker_id or "").split("/")[0] for t in trials}
    assert len(launchers) == 2, outs  # both "hosts" ran trials of the one experiment
