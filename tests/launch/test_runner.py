"""The launcher with real trial processes: tiny Python programs written by the tests."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import tunehooks as th
from tunehooks.launch import Launcher, LogProgress, parse_sweep
from tunehooks.trial import Decision, TrialRecord


def _sweep(tmp_path: Path, script: str, **overrides: Any) -> Any:
    (tmp_path / "train.py").write_text(textwrap.dedent(script))
    data = {
        "name": "t",
        "program": "train.py",
        "command": ["${interpreter}", "${program}", "${args}"],
        "method": "random",
        "metric": {"name": "y", "goal": "maximize"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
        "budget": {"trials": 3},
        "resources": {"workers": 1, "gpus_per_trial": 0},
        **overrides,
    }
    data = {k: v for k, v in data.items() if v is not None}
    return parse_sweep(data, path=tmp_path / "sweep.yaml")


def _launch(tmp_path: Path, sweep: Any, **kw: Any) -> tuple[Any, str]:
    out = io.StringIO()
    kw.setdefault("poll_interval", 0.05)
    launcher = Launcher(
        sweep,
        storage=f"sqlite:///{tmp_path / 'db.sqlite'}",
        runs_dir=tmp_path / "runs",
        progress=LogProgress(out, timestamps=False),
        cwd=tmp_path,
        **kw,
    )
    return launcher.run(), out.getvalue()


def _trials(tmp_path: Path, name: str = "t") -> list[TrialRecord]:
    return th.Experiment.load(name, storage=f"sqlite:///{tmp_path / 'db.sqlite'}").get_trials()


REPORTER = """
    import argparse, json, os
    p = argparse.ArgumentParser()
    p.add_argument("--x", type=float)
    p.add_argument("--opt", default="")
    a = p.parse_args()
    with open(os.path.join(os.environ["TUNEHOOKS_RUN_DIR"], "seen.json"), "w") as f:
        json.dump({"argv": __import__("sys").argv[1:], "env": {k: v for k, v in os.environ.items()
                   if k.startswith("TUNEHOOKS_") or k == "CUDA_VISIBLE_DEVICES"}}, f)
    for step in (1, 2, 3):
        print("tunehooks: " + json.dumps({"step": step, "y": a.x * step, "loss": 1.0 / step}))
    print(f"y\\t{a.x}")
"""


def test_hostile_values_are_plain_arguments_and_trials_complete(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    hostile = [f"; touch {pwned}", f"$(touch {pwned})", f"`touch {pwned}` && touch {pwned}"]
    sweep = _sweep(
        tmp_path,
        REPORTER,
        parameters={"x": {"min": 0.0, "max": 1.0}, "opt": {"values": hostile}},
        budget={"trials": 6},
        resources={"workers": 2, "gpus_per_trial": 1, "devices": [0, 1]},
        metric=None,
        metrics=[{"name": "y", "goal": "maximize"}, {"name": "loss", "strategy": "store"}],
    )
    result, log = _launch(tmp_path, sweep)
    assert result.completed == 6 and result.failed == 0, log
    assert not pwned.exists()
    trials = _trials(tmp_path)
    seen_devices = set()
    for t in trials:
        seen = json.loads((tmp_path / "runs" / "t" / str(t.id) / "seen.json").read_text())
        assert f"--opt={t.params['opt']}" in seen["argv"]  # one argv item, verbatim
        assert seen["env"]["TUNEHOOKS_TRIAL_ID"] == str(t.id)
        assert seen["env"]["TUNEHOOKS_EXPERIMENT"] == "t"
        seen_devices.add(seen["env"]["CUDA_VISIBLE_DEVICES"])
        assert [r.step for r in t.reports] == [1, 2, 3]
        assert t.values["y"] == pytest.approx(t.params["x"])  # the final TAB line wins
        assert t.values["loss"] == pytest.approx(1 / 3)
        stdout = (tmp_path / "runs" / "t" / str(t.id) / "stdout.log").read_text()
        assert stdout.count("tunehooks: ") == 3
    assert seen_devices == {"0", "1"}
    assert result.best is not None and result.best.values["y"] == max(t.values["y"] for t in trials)


FLAKY = """
    import argparse, os, sys
    p = argparse.ArgumentParser()
    p.add_argument("--x", type=float)
    a = p.parse_args()
    mark = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"seen-{a.x}")
    if not os.path.exists(mark) or os.environ.get("ALWAYS_FAIL"):
        open(mark, "w").close()
        print("loading data ...")
        print("Traceback: RuntimeError: CUDA out of memory (simulated)", file=sys.stderr)
        sys.exit(3)
    print('tunehooks: {"y": %f}' % a.x)
"""


def test_a_failing_process_is_failed_with_its_stderr_and_retried(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, FLAKY, budget={"trials": 2}, on_failure={"retries": 1})
    result, log = _launch(tmp_path, sweep)
    trials = _trials(tmp_path)
    failed = [t for t in trials if t.state is th.TrialState.FAILED]
    done = [t for t in trials if t.state is th.TrialState.COMPLETED]
    assert len(failed) == 2 and len(done) == 2, log
    for f in failed:
        assert "exit code 3" in (f.error or "") and "CUDA out of memory" in (f.error or "")
    assert sorted(t.params["x"] for t in failed) == sorted(t.params["x"] for t in done)
    assert all(t.attempt == 1 for t in done) and all(t.attempt == 0 for t in failed)
    assert result.completed == 2 and "queued again" in log


def test_retries_are_bounded(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, FLAKY, budget={"trials": 1}, on_failure={"retries": 2})
    result, _ = _launch(tmp_path, sweep, env={**os.environ, "ALWAYS_FAIL": "1"})
    trials = _trials(tmp_path)
    assert [t.attempt for t in trials] == [0, 1, 2]
    assert all(t.state is th.TrialState.FAILED for t in trials) and result.failed == 3


def test_exit_zero_without_the_metric_fails_with_a_hint(tmp_path: Path) -> None:
    sweep = _sweep(
        tmp_path, "print('trained, but forgot to print the metric')\n", budget={"trials": 1}
    )
    _launch(tmp_path, sweep)
    (t,) = _trials(tmp_path)
    assert t.state is th.TrialState.FAILED
    assert "reported no value for ['y']" in (t.error or "") and "tunehooks: " in (t.error or "")


class StopAtStep2:
    """A scripted scheduler: every trial is stopped at its second report."""

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        return Decision.STOP if (trial.last_step or 0) >= 2 else Decision.CONTINUE

    def new_trial_fidelity(self, history: Sequence[TrialRecord]) -> float | None:
        return None


LONG = """
    import argparse, signal, sys, time
    p = argparse.ArgumentParser()
    p.add_argument("--x", type=float)
    a = p.parse_args()
    STUBBORN = {stubborn}
    if STUBBORN:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for step in range(1, 1000):
        print('tunehooks: {{"step": %d, "y": %f}}' % (step, a.x * step), flush=True)
        time.sleep(0.05)
"""


@pytest.mark.parametrize("stubborn", [False, True])
def test_stop_terminates_the_process_and_prunes_the_trial(tmp_path: Path, stubborn: bool) -> None:
    sweep = _sweep(tmp_path, LONG.format(stubborn=stubborn), budget={"trials": 2})
    result, log = _launch(tmp_path, sweep, scheduler=StopAtStep2(), stop_grace=0.5)
    trials = _trials(tmp_path)
    assert [t.state for t in trials] == [th.TrialState.PRUNED] * 2, log
    assert all([r.step for r in t.reports] == [1, 2] for t in trials)
    assert result.pruned == 2 and "stopped by the scheduler at step 2" in log


def test_a_script_reporting_through_current_trial(tmp_path: Path) -> None:
    script = """
        import tunehooks as th
        trial = th.current_trial()
        for step in (1, 2):
            trial.report(step, {"y": trial.params["x"] + step})
        trial.complete()
    """
    sweep = _sweep(tmp_path, script, budget={"trials": 2}, command=["${interpreter}", "${program}"])
    result, log = _launch(tmp_path, sweep)
    trials = _trials(tmp_path)
    assert result.completed == 2, log
    assert all(t.values["y"] == pytest.approx(t.params["x"] + 2) for t in trials)


WAIT_FOR_GO = """
    import argparse, os, time
    p = argparse.ArgumentParser()
    p.add_argument("--x", type=float)
    a = p.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(os.environ["TUNEHOOKS_RUN_DIR"], "pid"), "w") as f:
        f.write(str(os.getpid()))
    print('tunehooks: {"step": 1, "y": 0.0}', flush=True)
    while not os.path.exists(os.path.join(here, "go")):
        time.sleep(0.05)
    print('tunehooks: {"step": 2, "y": %f}' % a.x)
"""


def _start_launcher(tmp_path: Path, sweep_yaml: str) -> subprocess.Popen[str]:
    (tmp_path / "sweep.yaml").write_text(sweep_yaml)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tunehooks.cli",
            "launch",
            "sweep.yaml",
            "--storage",
            f"sqlite:///{tmp_path / 'db.sqlite'}",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_running(tmp_path: Path, n: int, timeout: float = 120.0) -> list[TrialRecord]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (tmp_path / "db.sqlite").exists():
            try:
                running = [t for t in _trials(tmp_path) if t.state is th.TrialState.RUNNING]
            except Exception:
                running = []
            pids = [tmp_path / "runs" / "t" / str(t.id) / "pid" for t in running]
            if len(running) >= n and all(p.exists() for p in pids):
                return running
        time.sleep(0.2)
    raise AssertionError("the launcher started no trial in time")


SWEEP_YAML = """
name: t
program: train.py
command: ["${interpreter}", "${program}", "${args}"]
method: random
metric: {name: y, goal: maximize}
parameters: {x: {min: 0.0, max: 1.0}}
budget: {trials: 3}
resources: {workers: WORKERS, gpus_per_trial: 0}
"""


def _pid_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_kill_9_then_relaunch_reclaims_the_trial_and_finishes_the_budget(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(textwrap.dedent(WAIT_FOR_GO))
    proc = _start_launcher(tmp_path, SWEEP_YAML.replace("WORKERS", "1"))
    (stale,) = _wait_running(tmp_path, 1)
    child = int((tmp_path / "runs" / "t" / str(stale.id) / "pid").read_text())
    proc.kill()  # kill -9: no cleanup at all
    proc.wait()
    assert _pid_gone(child), "the trial process outlived its killed launcher"
    assert _trials(tmp_path)[0].state is th.TrialState.RUNNING  # stuck, as after a preemption

    (tmp_path / "go").touch()
    sweep = _sweep(tmp_path, WAIT_FOR_GO, budget={"trials": 3})
    result, log = _launch(tmp_path, sweep)
    assert result.reclaimed == 1 and "reclaimed" in log
    trials = _trials(tmp_path)
    first = trials[0]
    assert first.state is th.TrialState.FAILED and "reclaimed" in (first.error or "")
    done = [t for t in trials if t.state is th.TrialState.COMPLETED]
    assert len(done) == 3 and sum(t.attempt == 0 for t in trials) == 3
    assert [t.params for t in done if t.attempt == 1] == [first.params]

    again, _ = _launch(tmp_path, sweep)  # a finished sweep: nothing runs twice
    assert again.started == 0 and len(_trials(tmp_path)) == len(trials)


def test_relaunch_with_a_grown_budget_runs_only_the_new_trials(tmp_path: Path) -> None:
    first, _ = _launch(tmp_path, _sweep(tmp_path, REPORTER, budget={"trials": 2}))
    assert first.completed == 2
    before = {t.id: t.values for t in _trials(tmp_path)}
    grown, log = _launch(tmp_path, _sweep(tmp_path, REPORTER, budget={"trials": 4}))
    assert grown.started == 2 and grown.completed == 4, log  # completed: the whole sweep
    trials = _trials(tmp_path)
    assert len(trials) == 4 and all(t.state is th.TrialState.COMPLETED for t in trials)
    assert {t.id: t.values for t in trials[:2]} == before  # the first two are untouched
    minimize = {"name": "y", "goal": "minimize"}
    with pytest.raises(ValueError, match="different metrics; give the sweep a new `name:`"):
        _launch(tmp_path, _sweep(tmp_path, REPORTER, budget={"trials": 4}, metric=minimize))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_cleanly_and_the_relaunch_runs_the_interrupted_trials(
    tmp_path: Path, sig: signal.Signals
) -> None:
    (tmp_path / "train.py").write_text(textwrap.dedent(WAIT_FOR_GO))
    proc = _start_launcher(tmp_path, SWEEP_YAML.replace("WORKERS", "2"))
    running = _wait_running(tmp_path, 2)
    children = [int((tmp_path / "runs" / "t" / str(t.id) / "pid").read_text()) for t in running]
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert f"the launcher got {sig.name}" in out
    assert all(_pid_gone(pid) for pid in children)
    trials = _trials(tmp_path)
    interrupted = [t for t in trials if t.state is th.TrialState.FAILED]
    assert len(interrupted) == 2 and all("interrupted" in (t.error or "") for t in interrupted)
    assert all(len(t.reports) == 1 for t in interrupted)  # what they reported is kept
    assert sum(t.state is th.TrialState.QUEUED for t in trials) == 2

    (tmp_path / "go").touch()
    result, log = _launch(tmp_path, _sweep(tmp_path, WAIT_FOR_GO, budget={"trials": 3}))
    trials = _trials(tmp_path)
    assert result.completed == 3, log
    assert sum(t.attempt == 0 for t in trials) == 3
    assert sorted(str(t.params) for t in trials if t.attempt == 1) == sorted(
        str(t.params) for t in interrupted
    )


def test_cli_dry_run_prints_the_sweep_and_commands_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tunehooks.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text("raise SystemExit('must not run')\n")
    (tmp_path / "sweep.yaml").write_text(
        SWEEP_YAML.replace("WORKERS", "1").replace(
            "parameters: {x: {min: 0.0, max: 1.0}}",
            "parameters: {x: {min: 0.0, max: 1.0}, opt: {values: ['$(touch pwned)', b]}}\n"
            "enqueue: [{x: 0.5, opt: b}]",
        )
    )
    assert main(["launch", "sweep.yaml", "--dry-run", "--commands", "2"]) == 0
    out = capsys.readouterr().out
    assert "name: t" in out and "method: random" in out
    cmds = [line for line in out.splitlines() if "train.py" in line and "--x=" in line]
    assert len(cmds) == 2 and "--opt=b --x=0.5" in cmds[0]
    assert main(["launch", "sweep.yaml", "--dry-run", "--json", "--commands", "5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sweep"]["budget"]["trials"] == 3 and len(data["commands"]) == 3
    assert data["commands"][0][-2:] == ["--opt=b", "--x=0.5"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.yaml", "train.py"]


def test_a_killed_process_and_a_missing_command_fail_clearly(tmp_path: Path) -> None:
    killer = (
        "import os, signal\nprint('tunehooks: {\"y\": 1}')\nos.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result, log = _launch(tmp_path, _sweep(tmp_path, killer, budget={"trials": 1}))
    (t,) = _trials(tmp_path)
    assert t.state is th.TrialState.FAILED and "killed by signal SIGKILL" in (t.error or "")
    assert len(t.reports) == 1  # what it reported before dying is kept

    other = tmp_path / "other"
    other.mkdir()
    missing = _sweep(other, "", name="m", command=["no-such-program-xyz", "${args}"])
    result, log = _launch(other, missing, workers=2)
    trials = _trials(other, "m")
    assert result.failed == 3 and len(trials) == 3, log
    assert all(
        "could not start the command 'no-such-program-xyz'" in (t.error or "") for t in trials
    )
