"""Trial processes never outlive a killed launcher; a relaunch never runs two copies."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tunehooks as th
from tunehooks.launch import Launcher, LogProgress, parse_sweep

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

# every process of the trial notes its pid and keeps a heartbeat file fresh
CHILD = """
    import os, signal, sys, time
    if "stubborn" in sys.argv:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    run = os.environ["TUNEHOOKS_RUN_DIR"]
    name = sys.argv[1]
    with open(os.path.join(run, f"pid-{name}"), "w") as f:
        f.write(str(os.getpid()))
    print(f"hello from {name}", flush=True)
    print('tunehooks: {"step": 1, "y": 0.5}', flush=True)
    beat = os.path.join(run, f"beat-{name}")
    here = os.path.dirname(os.path.abspath(__file__))
    go = os.path.join(here, "go-" + os.environ["TUNEHOOKS_TRIAL_ID"])
    end = time.time() + 120  # a leak in a failing test ends by itself
    while not os.path.exists(go) and time.time() < end:
        with open(beat + ".tmp", "w") as f:
            f.write(repr(time.time()))
        os.replace(beat + ".tmp", beat)
        time.sleep(0.05)
    print('tunehooks: {"step": 2, "y": 1.0}', flush=True)
"""

LAUNCHER = """
import sys
from tunehooks.launch import Launcher, load_sweep
Launcher(load_sweep("sweep.yaml"), storage=sys.argv[1], stop_grace=1.0,
         poll_interval=0.05).run()
"""

SWEEP = """
name: o
program: child.py
command: COMMAND
method: random
metric: {name: y, goal: maximize}
parameters: {x: {min: 0.0, max: 1.0}}
budget: {trials: 1}
resources: {workers: 1, gpus_per_trial: 0}
"""

SHELL = '["/bin/sh", "-c", "${interpreter} child.py a stubborn & ${interpreter} child.py b; wait"]'
STUBBORN = '["${interpreter}", "${program}", "solo", "stubborn"]'


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db.sqlite'}"


def _start(tmp_path: Path, command: str) -> subprocess.Popen[str]:
    (tmp_path / "child.py").write_text(textwrap.dedent(CHILD))
    (tmp_path / "sweep.yaml").write_text(SWEEP.replace("COMMAND", command))
    (tmp_path / "launcher.py").write_text(LAUNCHER)
    return subprocess.Popen(
        [sys.executable, "launcher.py", _url(tmp_path)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(paths: list[Path], timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(p.exists() and p.read_text() for p in paths):
            return
        time.sleep(0.05)
    raise AssertionError(f"not there in time: {paths}")


def _wait_for_lines(path: Path, lines: list[str], timeout: float = 60.0) -> None:
    """Until the file (a trial's log the launcher writes) holds every one of ``lines``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and all(line in path.read_text() for line in lines):
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} does not hold {lines} in time")


def _run_dir(tmp_path: Path) -> Path:
    dirs = list((tmp_path / "runs" / "o").iterdir())
    assert len(dirs) == 1
    return dirs[0]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _gone(pids: list[int], timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def _children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(x) for x in f.read().split()]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("command", [SHELL, STUBBORN], ids=["sh -c children", "ignores SIGTERM"])
def test_kill_9_of_the_launcher_leaves_no_orphan_and_keeps_the_logs(
    tmp_path: Path, command: str
) -> None:
    proc = _start(tmp_path, command)
    names = ["a", "b"] if command == SHELL else ["solo"]
    deadline = time.time() + 60
    while time.time() < deadline and not list((tmp_path / "runs" / "o").glob("*/pid-*")):
        time.sleep(0.05)
    run = _run_dir(tmp_path)
    _wait_for([run / f"pid-{n}" for n in names])
    pids = [int((run / f"pid-{n}").read_text()) for n in names]
    _wait_for_lines(run / "stdout.log", [f"hello from {n}" for n in names])  # as it came
    proc.kill()  # kill -9: no cleanup in the launcher at all
    proc.wait()
    assert _gone(pids, timeout=10.0), "a trial process outlived its killed launcher"
    stdout = (run / "stdout.log").read_text()
    assert all(f"hello from {n}" in stdout for n in names), stdout  # written as it came


@pytest.mark.slow
def test_a_relaunch_ends_the_old_copy_before_it_starts_a_new_one(tmp_path: Path) -> None:
    proc = _start(tmp_path, STUBBORN)
    deadline = time.time() + 60
    while time.time() < deadline and not list((tmp_path / "runs" / "o").glob("*/beat-solo")):
        time.sleep(0.05)
    old_run = _run_dir(tmp_path)
    old = int((old_run / "pid-solo").read_text())
    process = json.loads((old_run / "process.json").read_text())
    assert process["pgid"] == process["pid"] == old
    for pid in set(_children(proc.pid)) - {old}:  # the watchdog: the worst case
        os.kill(pid, signal.SIGKILL)
    proc.kill()
    proc.wait()
    time.sleep(0.5)
    assert _alive(old), "the stubborn trial should survive here (it ignores SIGTERM)"

    (tmp_path / f"go-{int(old_run.name) + 1}").touch()  # for the new copy only
    sweep = parse_sweep(
        {
            "name": "o",
            "program": "child.py",
            "command": ["${interpreter}", "${program}", "solo", "stubborn"],
            "method": "random",
            "metric": {"name": "y", "goal": "maximize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "budget": {"trials": 1},
            "resources": {"workers": 1, "gpus_per_trial": 0},
        },
        path=tmp_path / "sweep.yaml",
    )
    out = io.StringIO()
    result = Launcher(
        sweep,
        storage=_url(tmp_path),
        runs_dir=tmp_path / "runs",
        progress=LogProgress(out, timestamps=False),
        cwd=tmp_path,
        stop_grace=1.0,
        poll_interval=0.05,
    ).run()
    log = out.getvalue()
    assert result.reclaimed == 1 and result.completed == 1, log
    assert "old processes were still running" in log
    assert not _alive(old)
    trials = th.Experiment.load("o", storage=_url(tmp_path)).get_trials()
    new_run = tmp_path / "runs" / "o" / str(trials[-1].id)
    new_started = json.loads((new_run / "process.json").read_text())["started_at"]
    last_old_beat = float((old_run / "beat-solo").read_text())
    assert last_old_beat < new_started  # never two copies at once
