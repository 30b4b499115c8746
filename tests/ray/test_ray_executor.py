"""The launcher on a real two-node Ray cluster (two GPUs declared per node): trials are
Ray actors placed by their GPU share, each seeing its own device; a node that dies
fails and requeues its trials and the sweep finishes on the other."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import tunehooks as th
from tunehooks.launch import Launcher, LogProgress, parse_sweep
from tunehooks.launch._schema import SweepError

# Each trial notes its devices and times; it waits until `k` trials have started (a
# barrier: with fewer slots than `k` it would wait in vain), then holds `hold` seconds.
GATED = """
    import argparse, json, os, time
    p = argparse.ArgumentParser()
    p.add_argument("--x", type=float)
    a = p.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    start = time.time()
    started = os.path.join(here, "started")
    open(os.path.join(started, os.environ["TUNEHOOKS_TRIAL_ID"]), "w").close()
    k, hold = (float(v) for v in open(os.path.join(here, "gate")).read().split())
    while len(os.listdir(started)) < k and time.time() < start + 180:
        time.sleep(0.1)
    time.sleep(hold)
    seen = {"cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "end": time.time()}
    with open(os.path.join(os.environ["TUNEHOOKS_RUN_DIR"], "seen.json"), "w") as f:
        json.dump(seen, f)
    print("tunehooks: " + json.dumps({"step": 1, "y": a.x}))
"""


def _sweep(tmp_path: Path, gpus: float, trials: int, k: int, hold: float) -> Any:
    (tmp_path / "train.py").write_text(textwrap.dedent(GATED))
    (tmp_path / "gate").write_text(f"{k} {hold}")
    (tmp_path / "started").mkdir()
    return parse_sweep(
        {
            "name": "ray",
            "program": "train.py",
            "command": ["${interpreter}", "${program}", "${args}"],
            "method": "random",
            "metric": {"name": "y", "goal": "maximize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "budget": {"trials": trials},
            "resources": {"executor": "ray", "gpus_per_trial": gpus, "cpus_per_trial": 0.5},
        },
        path=tmp_path / "sweep.yaml",
    )


def _launcher(tmp_path: Path, sweep: Any, url: str, cluster: Any, out: io.StringIO) -> Launcher:
    return Launcher(
        sweep,
        storage=url,
        runs_dir=tmp_path / "runs",
        progress=LogProgress(out, timestamps=False),
        cwd=tmp_path,
        address=cluster.address,
        poll_interval=0.1,
        heartbeat_interval=2.0,
    )


def _runs(tmp_path: Path) -> list[dict[str, Any]]:
    out = []
    for seen in sorted((tmp_path / "runs" / "ray").glob("*/seen.json")):
        node = json.loads((seen.parent / "node.json").read_text())
        out.append({**json.loads(seen.read_text()), "node": node["node_id"]})
    return out


def _most_at_once(runs: list[dict[str, Any]]) -> int:
    events = sorted([(r["start"], 1) for r in runs] + [(r["end"], -1) for r in runs])
    now = most = 0
    for _, d in events:
        now += d
        most = max(most, now)
    return most


def test_sqlite_with_a_cluster_of_two_nodes_is_one_clear_error(
    tmp_path: Path, cluster: Any
) -> None:
    sweep = _sweep(tmp_path, 1, 1, 1, 0.0)
    launcher = _launcher(
        tmp_path, sweep, f"sqlite:///{tmp_path / 'db.sqlite'}", cluster, io.StringIO()
    )
    with pytest.raises(SweepError, match=r"^storage: .* Ray cluster has 2 nodes .* PostgreSQL"):
        launcher.run()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_one_gpu_per_trial_runs_four_at_a_time_on_distinct_devices(
    tmp_path: Path, cluster: Any, pg_url: str
) -> None:
    out = io.StringIO()
    result = _launcher(tmp_path, _sweep(tmp_path, 1, 8, 4, 1.0), pg_url, cluster, out).run()
    assert result.completed == 8, out.getvalue()
    runs = _runs(tmp_path)
    assert len(runs) == 8 and _most_at_once(runs) == 4, out.getvalue()
    first = sorted(runs, key=lambda r: r["start"])[:4]  # the four that waited for each other
    assert len({r["node"] for r in first}) == 2
    assert len({(r["node"], r["cuda"]) for r in first}) == 4
    assert {r["cuda"] for r in runs} == {"0", "1"}  # one device each, of its node's two


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_half_a_gpu_per_trial_runs_eight_at_a_time(
    tmp_path: Path, cluster: Any, pg_url: str
) -> None:
    out = io.StringIO()
    result = _launcher(tmp_path, _sweep(tmp_path, 0.5, 8, 8, 1.0), pg_url, cluster, out).run()
    assert result.completed == 8, out.getvalue()
    runs = _runs(tmp_path)
    assert _most_at_once(runs) == 8, out.getvalue()
    per_device = Counter((r["node"], r["cuda"]) for r in runs)
    assert len(per_device) == 4 and set(per_device.values()) == {2}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_killed_launcher_and_a_relaunch_finish_the_sweep_without_duplicates(
    tmp_path: Path, cluster: Any, pg_url: str
) -> None:
    sweep = _sweep(tmp_path, 1, 6, 4, 600.0)  # the first four hold until the launcher dies
    yaml = {
        "name": "ray",
        "program": "train.py",
        "command": ["${interpreter}", "${program}", "${args}"],
        "method": "random",
        "metric": {"name": "y", "goal": "maximize"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
        "budget": {"trials": 6},
        "resources": {"executor": "ray", "gpus_per_trial": 1, "cpus_per_trial": 0.5},
    }
    (tmp_path / "sweep.yaml").write_text(json.dumps(yaml))  # JSON is YAML
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tunehooks",
            "launch",
            str(tmp_path / "sweep.yaml"),
            "--address",
            cluster.address,
            "--storage",
            pg_url,
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while len(list((tmp_path / "started").iterdir())) < 4 and time.time() < deadline:
        time.sleep(0.5)
    assert len(list((tmp_path / "started").iterdir())) == 4
    os.killpg(first.pid, signal.SIGKILL)  # the launcher alone: its group
    first.wait(timeout=60)
    (tmp_path / "gate").write_text("4 0.5")  # the trials of the relaunch end at once
    out = io.StringIO()
    result = _launcher(tmp_path, sweep, pg_url, cluster, out).run()
    log = out.getvalue()
    trials = th.Experiment.load("ray", storage=pg_url).get_trials(with_reports=False)
    assert result.reclaimed == 4 and result.completed == 6, log
    assert not [t for t in trials if t.state is th.TrialState.RUNNING]
    assert sum(t.attempt == 0 for t in trials) == 6  # no trial started twice as new
    reclaimed = [t for t in trials if t.state is th.TrialState.FAILED]
    assert len(reclaimed) == 4 and all("reclaimed" in (t.error or "") for t in reclaimed)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_node_that_dies_fails_and_requeues_its_trials_and_the_sweep_finishes(
    tmp_path: Path, cluster: Any, pg_url: str
) -> None:
    """Runs last: it stops the worker node."""
    sweep = _sweep(tmp_path, 1, 8, 4, 6.0)
    out = io.StringIO()
    launcher = _launcher(tmp_path, sweep, pg_url, cluster, out)
    done: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: done.setdefault("result", launcher.run()))
    thread.start()
    exp = None
    deadline = time.time() + 300
    while time.time() < deadline and thread.is_alive():
        time.sleep(0.5)
        if len(list((tmp_path / "started").iterdir())) >= 4:
            break
    cluster.worker.stop()  # every Ray process of the worker node, and so its trials
    thread.join(timeout=600)
    assert not thread.is_alive(), out.getvalue()
    log = out.getvalue()
    result = done["result"]
    exp = th.Experiment.load("ray", storage=pg_url)
    trials = exp.get_trials(with_reports=False)
    lost = [t for t in trials if t.state is th.TrialState.FAILED]
    assert len(lost) == 2 and all("lost" in (t.error or "") for t in lost), log
    assert result.completed == 8 and not result.halted, log
    assert not [t for t in trials if t.state is th.TrialState.RUNNING]
    assert sorted(str(t.params) for t in trials if t.attempt == 1) == sorted(
        str(t.params) for t in lost
    )
    assert "the cluster now holds 2 trials at a time" in log
