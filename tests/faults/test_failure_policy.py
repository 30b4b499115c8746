"""A program that keeps failing stops the sweep early, says why and how to go on."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import tunehooks as th
from tunehooks.launch import Launcher, LogProgress, parse_sweep
from tunehooks.launch.policy import FailurePolicy, FailureTracker, classify_failure
from tunehooks.launch.progress import sweep_stats

BROKEN = """
    import os, sys
    if not os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixed")):
        print("loading data ...", file=sys.stderr)
        print("Traceback (most recent call last):", file=sys.stderr)
        print('  File "train.py", line 9, in <module>', file=sys.stderr)
        print("RuntimeError: the data folder /data/digits is empty", file=sys.stderr)
        sys.exit(1)
    print('tunehooks: {"step": 1, "y": 0.5}')
"""


def _sweep(tmp_path: Path, script: str, **overrides: Any) -> Any:
    (tmp_path / "train.py").write_text(textwrap.dedent(script))
    data = {
        "name": "p",
        "program": "train.py",
        "command": ["${interpreter}", "${program}", "${args}"],
        "method": "random",
        "metric": {"name": "y", "goal": "maximize"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
        "budget": {"trials": 40},
        "resources": {"workers": 2, "gpus_per_trial": 0},
        **overrides,
    }
    return parse_sweep(data, path=tmp_path / "sweep.yaml")


def _launch(tmp_path: Path, sweep: Any, **kw: Any) -> tuple[Any, str]:
    out = io.StringIO()
    result = Launcher(
        sweep,
        storage=f"sqlite:///{tmp_path / 'db.sqlite'}",
        runs_dir=tmp_path / "runs",
        progress=LogProgress(out, timestamps=False),
        cwd=tmp_path,
        poll_interval=0.05,
        **kw,
    ).run()
    return result, out.getvalue()


def _trials(tmp_path: Path) -> list[th.TrialRecord]:
    return th.Experiment.load("p", storage=f"sqlite:///{tmp_path / 'db.sqlite'}").get_trials()


def test_an_always_failing_program_stops_within_a_handful_and_resumes_after_a_fix(
    tmp_path: Path,
) -> None:
    sweep = _sweep(tmp_path, BROKEN, budget={"trials": 10}, on_failure={"retries": 1})
    result, log = _launch(tmp_path, sweep)
    assert result.exit_code == 1 and result.halted is not None, log
    assert result.started <= 5, log  # not the whole budget of 10 (and 10 retries)
    assert "3 trials in a row failed with the same error" in log
    # the console shows the error itself, not an empty tail
    assert "RuntimeError: the data folder /data/digits is empty" in log
    assert "--retry-failed" in log
    assert all(t.state is not th.TrialState.RUNNING for t in _trials(tmp_path))

    (tmp_path / "fixed").touch()
    again, log2 = _launch(tmp_path, sweep, retry_failed=True)
    assert again.exit_code == 0 and again.halted is None, log2
    trials = _trials(tmp_path)
    assert sum(t.state is th.TrialState.COMPLETED for t in trials) == 10, log2
    assert sum(t.attempt == 0 for t in trials) == 10  # the budget, exactly
    stats = sweep_stats(th.Experiment.load("p", storage=f"sqlite:///{tmp_path / 'db.sqlite'}"),
                        durations=[], slots=1)  # fmt: skip
    assert stats.done == 10 and stats.line().startswith("done 10/10"), stats.line()

    third, log3 = _launch(tmp_path, sweep)  # a finished sweep says so
    assert third.started == 0 and "nothing to run: the budget is spent (10 completed" in log3


def test_the_cli_exits_non_zero_and_prints_how_to_resume(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(textwrap.dedent(BROKEN))
    (tmp_path / "sweep.yaml").write_text(
        textwrap.dedent(
            """
            name: p
            program: train.py
            method: random
            metric: {name: y, goal: maximize}
            parameters: {x: {min: 0.0, max: 1.0}}
            budget: {trials: 40}
            resources: {workers: 2, gpus_per_trial: 0}
            """
        )
    )
    proc = subprocess.run(
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
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "tunehooks launch sweep.yaml --retry-failed" in proc.stdout
    assert "RuntimeError: the data folder" in proc.stdout
    assert len(_trials(tmp_path)) <= 5


ARGPARSE = """
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float)   # the sweep passes --x: a configuration error
    p.parse_args()
"""


def test_configuration_errors_are_not_retried_and_cost_nothing(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, ARGPARSE, budget={"trials": 6, "cost": 6}, on_failure={"retries": 3})
    result, log = _launch(tmp_path, sweep)
    trials = _trials(tmp_path)
    assert "queued again" not in log and all(t.attempt == 0 for t in trials), log
    assert all((t.error or "").startswith("configuration error: ") for t in trials)
    assert "unrecognized arguments: --x=" in log
    assert result.exit_code == 1 and len(trials) <= 4
    exp = th.Experiment.load("p", storage=f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert exp.budget_used()[1] == 0.0  # no cost charged


def test_a_missing_metric_is_a_configuration_error(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, "print('done, but no metric')\n", on_failure={"retries": 2})
    result, log = _launch(tmp_path, sweep, workers=1)
    trials = _trials(tmp_path)
    assert len(trials) == 3 and "queued again" not in log, log
    assert all("reported no value for ['y']" in (t.error or "") for t in trials)
    assert result.halted is not None


def test_the_failure_rate_bound() -> None:
    t = FailureTracker(FailurePolicy(stop_after=0, max_failure_rate=0.5, rate_after=10))
    verdicts = [t.ended(failed=i % 3 != 2, error=f"error {i}\nValueError: {'ab'[i % 2]}") for i in range(10)]  # fmt: skip
    assert verdicts[:9] == [None] * 9
    assert verdicts[9] == "7 of the 10 trials that ended failed (more than 50%)"
    off = FailureTracker(FailurePolicy(stop_after=0, max_failure_rate=1.0))
    assert all(off.ended(failed=True, error="x") is None for _ in range(50))


@pytest.mark.parametrize(
    ("rc", "stderr", "config"),
    [
        (2, "usage: train.py [-h]\ntrain.py: error: unrecognized arguments: --x=1", True),
        (1, "Traceback ...\nModuleNotFoundError: No module named 'torchvision'", True),
        (127, "sh: 1: trian.py: not found", True),
        (1, "Traceback ...\nRuntimeError: CUDA out of memory", False),
        (-9, "", False),
        (2, "RuntimeError: exit 2 of its own", False),
    ],
)
def test_classify_failure(rc: int, stderr: str, config: bool) -> None:
    assert (classify_failure(rc, stderr).value == "configuration") is config


def test_progress_counts_configurations_not_attempts(tmp_path: Path) -> None:
    sweep = _sweep(
        tmp_path,
        """
        import argparse, os, sys
        p = argparse.ArgumentParser(); p.add_argument("--x", type=float); a = p.parse_args()
        mark = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"seen-{a.x}")
        if not os.path.exists(mark):
            open(mark, "w").close(); print(f"flaky {a.x}", file=sys.stderr); sys.exit(3)
        print('tunehooks: {"y": 1.0}')
        """,
        budget={"trials": 4},
        on_failure={"retries": 1, "stop_after": 0, "max_failure_rate": 1.0},
    )
    result, log = _launch(tmp_path, sweep)
    assert result.completed == 4 and result.failed == 4, log
    assert "done 8/4" not in log and "done 5/4" not in log
    assert "done 4/4" in log


DIVERGES = """
    import math
    print('tunehooks: {"step": 1, "y": NaN}', flush=True)
    import time; time.sleep(5)
"""


def test_diverged_trials_are_results_not_failures_of_the_program(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, DIVERGES, budget={"trials": 5})
    result, log = _launch(tmp_path, sweep, stop_grace=0.5)
    trials = _trials(tmp_path)
    assert len(trials) == 5 and result.halted is None and result.exit_code == 0, log
    assert all("diverged" in (t.error or "") for t in trials)
