"""A finished sweep exported to MLflow and TensorBoard with the real packages, writing to a
local folder (MLflow: a SQLite tracking database, its file store being deprecated), and
read back with their own readers."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tunehooks as th
from tunehooks.analysis import tracking


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunehooks", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow  # MLflow creates its database with its own migrations: ~20 s
def test_export_to_mlflow(scripted: th.Experiment, tmp_path) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    r = tracking.to_mlflow(scripted, tracking_uri=uri)
    # 8 trials: 5 completed, 1 pruned, 1 failed exported; the running one left out
    assert (r.exported, r.skipped, r.unfinished) == (7, 0, 1)
    client = MlflowClient(tracking_uri=uri)
    mexp = client.get_experiment_by_name("scripted")
    runs = client.search_runs([mexp.experiment_id], max_results=100)
    parent = [x for x in runs if x.data.tags.get("tunehooks.sweep") == "scripted"]
    assert len(parent) == 1
    trials = {
        int(x.data.tags["tunehooks.number"]): x for x in runs if "tunehooks.number" in x.data.tags
    }
    assert sorted(trials) == [0, 1, 2, 3, 4, 5, 6]
    assert all(x.data.tags["mlflow.parentRunId"] == parent[0].info.run_id for x in trials.values())
    assert trials[6].info.status == "FINISHED" and trials[2].info.status == "KILLED"
    assert trials[3].info.status == "FAILED"
    assert trials[3].data.tags["tunehooks.error"] == "RuntimeError: CUDA out of memory"
    assert trials[5].data.tags["tunehooks.fidelity"] == "2.0"
    stored = {t.number: t for t in scripted.get_trials()}
    assert trials[6].data.params["lr"] == str(stored[6].params["lr"])
    assert trials[6].data.params["opt"] == stored[6].params["opt"]
    history = client.get_metric_history(trials[6].info.run_id, "acc")
    assert [(m.step, m.value) for m in history] == [
        (r.step, r.metrics["acc"]) for r in stored[6].reports
    ]
    pruned = client.get_metric_history(trials[2].info.run_id, "acc")
    assert [m.step for m in pruned] == [1, 2]
    # again: nothing doubled
    again = tracking.to_mlflow(scripted, tracking_uri=uri)
    assert (again.exported, again.skipped) == (0, 7)
    assert len(client.search_runs([mexp.experiment_id], max_results=100)) == 8


def test_export_to_tensorboard(scripted: th.Experiment, tmp_path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logdir = tmp_path / "tb"
    r = tracking.to_tensorboard(scripted, logdir)
    assert (r.exported, r.skipped, r.unfinished) == (7, 0, 1)
    assert sorted(p.name for p in logdir.iterdir()) == [f"trial-000{i}" for i in range(7)]
    stored = {t.number: t for t in scripted.get_trials()}
    ea = EventAccumulator(str(logdir / "trial-0006"))
    ea.Reload()
    acc = ea.Scalars("acc")
    assert [e.step for e in acc] == [1, 2, 3, 4]
    assert [e.value for e in acc] == pytest.approx([r.metrics["acc"] for r in stored[6].reports])
    assert ea.Scalars("final/acc")[0].value == pytest.approx(0.90)
    assert "_hparams_/session_start_info" in ea.PluginTagToContent("hparams")
    assert tracking.to_tensorboard(scripted, logdir).skipped == 7


@pytest.mark.slow
def test_cli_export_to_both(scripted: th.Experiment, tmp_path) -> None:
    url = scripted.storage.url
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = cli(
        "export",
        "scripted",
        "--storage",
        url,
        "--mlflow",
        uri,
        "--mlflow-experiment",
        "digits",
        "--tensorboard",
        str(tmp_path / "tb"),
    )
    assert out.returncode == 0, out.stderr
    assert f"exported 7 trials to mlflow at {uri}; 1 running or queued left out" in out.stdout
    assert "exported 7 trials to tensorboard at" in out.stdout
    from mlflow.tracking import MlflowClient

    assert MlflowClient(tracking_uri=uri).get_experiment_by_name("digits") is not None


def test_an_mlflow_error_is_one_line(scripted: th.Experiment, tmp_path) -> None:
    out = cli(
        "export",
        "scripted",
        "--storage",
        scripted.storage.url,
        "--mlflow",
        (tmp_path / "m").as_uri(),
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("tunehooks export: error: mlflow file://")
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
