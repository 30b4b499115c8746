"""Reclaiming trials whose worker vanished: at launch and while a launcher runs."""

from __future__ import annotations

import io
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import tunehooks as th
from tunehooks.launch import Launcher, LogProgress, parse_sweep, reclaim_stale_trials
from tunehooks.launch.recovery import local_worker_is_dead


def _exp(url: str) -> th.Experiment:
    return th.Experiment.create(
        "r",
        th.SearchSpace({"x": th.Float(0.0, 1.0)}),
        metrics=[th.Metric("y", goal="maximize")],
        budget=th.Budget(trials=5),
        storage=url,
        method="random",
    )


def test_dead_local_workers_and_silent_remote_ones_are_reclaimed(storage_url: str) -> None:
    exp = _exp(storage_url)
    gone = subprocess.Popen(["true"])
    gone.wait()
    host = socket.gethostname()
    dead = exp.ask(worker_id=f"{host}:{gone.pid}/0")
    alive = exp.ask(worker_id=f"{host}:1/0")  # pid 1 exists
    remote = exp.ask(worker_id="elsewhere:123/0")
    mine = exp.ask(worker_id="me:42/1")
    assert dead and alive and remote and mine
    assert local_worker_is_dead(dead.record.worker_id) and not local_worker_is_dead("elsewhere:1")

    first = reclaim_stale_trials(exp, stale_after=60, retries=0)
    assert [r.trial.id for r in first] == [dead.id]  # at once: its process is gone
    assert first[0].retry is not None and first[0].retry.params == dead.params
    time.sleep(0.4)
    exp.storage.heartbeat([alive.id])
    later = reclaim_stale_trials(exp, stale_after=0.3, retries=0, own="me:42")
    assert [r.trial.id for r in later] == [remote.id]  # silent for too long; "me" is skipped
    rec = exp.storage.get_trial(remote.id)
    assert rec.state is th.TrialState.FAILED and "no heartbeat" in (rec.error or "")
    # a trial that already had its retries is failed, not queued again
    retry = exp.ask(worker_id="elsewhere:9/0")
    assert retry is not None and retry.record.attempt == 1
    time.sleep(0.4)
    (last,) = [
        r for r in reclaim_stale_trials(exp, stale_after=0.3, retries=0) if r.trial.id == retry.id
    ]
    assert last.retry is None


def test_a_running_launcher_reclaims_a_trial_of_a_host_that_died(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import sys, time
            time.sleep(1.5)
            print('tunehooks: {"y": 1.0}')
            """
        )
    )
    sweep = parse_sweep(
        {
            "name": "r",
            "program": "train.py",
            "command": ["${interpreter}", "${program}"],
            "method": "random",
            "metric": {"name": "y", "goal": "maximize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "budget": {"trials": 2},
            "resources": {"workers": 1, "gpus_per_trial": 0},
        },
        path=tmp_path / "sweep.yaml",
    )
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    ghost = sweep.open_experiment(storage=url).ask(worker_id="ghost-host:7/0")  # then it dies
    assert ghost is not None
    out = io.StringIO()
    result = Launcher(
        sweep,
        storage=url,
        runs_dir=tmp_path / "runs",
        progress=LogProgress(out, timestamps=False),
        cwd=tmp_path,
        stale_after=1.0,
        heartbeat_interval=0.2,
        poll_interval=0.05,
    ).run()
    trials = th.Experiment.load("r", storage=url).get_trials()
    assert result.reclaimed == 1, out.getvalue()
    assert trials[0].state is th.TrialState.FAILED and "no heartbeat" in (trials[0].error or "")
    done = [t for t in trials if t.state is th.TrialState.COMPLETED]
    assert len(done) == 2 and any(t.params == ghost.params and t.attempt == 1 for t in done)


def test_the_launcher_heartbeats_its_running_trials(tmp_path: Path) -> None:
    import threading

    (tmp_path / "train.py").write_text(
        "import time\ntime.sleep(2.5)\nprint('tunehooks: {\"y\": 1}')\n"
    )
    sweep = parse_sweep(
        {
            "name": "hb",
            "program": "train.py",
            "command": ["${interpreter}", "${program}"],
            "method": "random",
            "metric": {"name": "y", "goal": "maximize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "budget": {"trials": 1},
            "resources": {"workers": 1, "gpus_per_trial": 0},
        },
        path=tmp_path / "sweep.yaml",
    )
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    launcher = Launcher(
        sweep,
        storage=url,
        runs_dir=tmp_path / "runs",
        progress=LogProgress(io.StringIO(), timestamps=False),
        cwd=tmp_path,
        heartbeat_interval=0.2,
        poll_interval=0.05,
    )
    thread = threading.Thread(target=launcher.run)  # off the main thread: no signal handlers
    thread.start()
    try:
        deadline = time.time() + 60
        trial = None
        while time.time() < deadline and trial is None:
            time.sleep(0.1)
            trial = next(
                (t for t in _trials_of(url, "hb") if t.state is th.TrialState.RUNNING), None
            )
        assert trial is not None
        time.sleep(1.0)
        now = th.Experiment.load("hb", storage=url).trial_handle(trial.id).record
        assert now.reports == () and now.heartbeat_at > trial.heartbeat_at + 0.5  # type: ignore[operator]
    finally:
        thread.join(timeout=60)
    assert _trials_of(url, "hb")[0].state is th.TrialState.COMPLETED


def _trials_of(url: str, name: str) -> list[th.TrialRecord]:
    try:
        return th.Experiment.load(name, storage=url).get_trials()
    except Exception:  # not created yet
        return []
