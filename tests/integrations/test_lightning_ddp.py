"""The README's Python loop under two-process gloo DDP on CPU, started every way ranks are
started: Lightning's own launch, torchrun, a launcher's assignment; ddp_spawn; an error
raised on rank 1 only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lightning")

import tunehooks as th
from tunehooks.context import ENV_EXPERIMENT, ENV_STORAGE, ENV_TRIAL_ID
from tunehooks.trial import TrialState

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent


def _run(storage_url: str, out: Path, *, start: str, strategy: str = "ddp", **env: str):
    full = {
        **os.environ,
        "EXP_NAME": "ddp-loop",
        "STORAGE_URL": storage_url,
        "OUT_DIR": str(out),
        "START": start,
        "STRATEGY": strategy,
        "PYTHONPATH": str(HERE),
        **env,
    }
    for name in (ENV_TRIAL_ID, ENV_EXPERIMENT, ENV_STORAGE, "TUNEHOOKS_DDP_JOB", "LOCAL_RANK"):
        full.pop(name, None)
    full.update(env)
    script = str(HERE / "_ddp_loop_script.py")
    cmd = [sys.executable, script]
    if start == "torchrun":
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            script,
        ]
    return subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=600, check=False)


def _ranks(out: Path) -> list[list[list[float]]]:
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


def _exp(storage_url: str) -> th.Experiment:
    return th.Experiment.load("ddp-loop", storage=storage_url)


@pytest.mark.parametrize("start", ["lightning", "torchrun"])
def test_every_rank_trains_the_trial_rank0_asked_for(start, storage_url, tmp_path) -> None:
    proc = _run(storage_url, tmp_path, start=start)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0, rank1 = _ranks(tmp_path)
    trials = _exp(storage_url).get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETED, TrialState.COMPLETED]
    assert rank0 == rank1 == [[t.id, t.params["lr"]] for t in trials]
    assert [[r.step for r in t.reports] for t in trials] == [[1, 2], [1, 2]]


def test_a_launchers_trial_is_the_one_trial_of_the_loop(storage_url, tmp_path) -> None:
    exp = th.Experiment.create(
        "ddp-loop",
        th.SearchSpace({"lr": th.Float(0.001, 0.05, log=True)}),
        metrics=[th.Metric("val_acc", goal="maximize")],
        budget=th.Budget(trials=2),
        storage=storage_url,
        method="random",
        seed=0,  # the script's own settings (a random seed would differ from its seed=0)
    )
    started = exp.ask()
    proc = _run(
        storage_url,
        tmp_path,
        start="launcher",
        **{ENV_TRIAL_ID: str(started.id), ENV_EXPERIMENT: "ddp-loop", ENV_STORAGE: storage_url},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _ranks(tmp_path) == [[[started.id, started.params["lr"]]]] * 2
    (rec,) = exp.get_trials()  # no rank asked a trial of its own
    assert rec.state is TrialState.COMPLETED and [r.step for r in rec.reports] == [1, 2]


def test_ddp_spawn_pickles_the_callback(storage_url, tmp_path) -> None:
    proc = _run(storage_url, tmp_path, start="lightning", strategy="ddp_spawn", TRIALS="1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (rec,) = _exp(storage_url).get_trials()
    assert rec.state is TrialState.COMPLETED and [r.step for r in rec.reports] == [1, 2]


def test_an_error_on_rank1_only_is_stored_as_that_error(storage_url, tmp_path) -> None:
    proc = _run(storage_url, tmp_path, start="lightning", FAIL="rank1")
    assert proc.returncode != 0
    trials = _exp(storage_url).get_trials()
    assert [t.state for t in trials] == [TrialState.FAILED]  # nothing left RUNNING
    assert (trials[0].error or "").startswith("MissingMetricError: monitor: metric 'val_acc'")
    assert "rank 1" in (trials[0].error or "")
