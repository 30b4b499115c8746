"""Malformed reports: refused at the call or ignored with one warning, never a crash."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

import pytest

import tunehooks as th
from tunehooks.launch import Launcher, LogProgress, parse_sweep

BAD_LINES = [
    'tunehooks: {"step": 1e19, "y": 0.5}',
    'tunehooks: {"step": Infinity, "y": 0.5}',
    'tunehooks: {"step": NaN, "y": 0.5}',
    'tunehooks: {"step": ' + "9" * 400 + ', "y": 0.5}',
    'tunehooks: {"step": ' + "9" * 5000 + ', "y": 0.5}',
    'tunehooks: {"step": 2, "y": ' + "9" * 400 + "}",
    'tunehooks: {"step": 1.7, "y": 0.5}',
    'tunehooks: {"step": -3, "y": 0.5}',
    'tunehooks: {"step": true, "y": 0.5}',
    "tunehooks: " + "[" * 100_000,
]


def _exp(url: str, name: str = "bad") -> th.Experiment:
    return th.Experiment.create(
        name,
        th.SearchSpace({"x": th.Float(0.0, 1.0)}),
        metrics=[th.Metric("y", goal="maximize")],
        budget=th.Budget(trials=3),
        storage=url,
        method="random",
    )


@pytest.mark.parametrize(
    "step",
    [2**63, 10**19, 1e19, float("inf"), float("nan"), 1.5, 0.5, 1.7, -1, True, "3", None],
    ids=repr,
)
def test_a_bad_step_is_refused_at_the_call_and_the_experiment_keeps_working(
    storage_url: str, step: Any
) -> None:
    exp = _exp(storage_url)
    trial = exp.ask()
    assert trial is not None
    trial.report(1, {"y": 0.1})
    with pytest.raises(ValueError, match=r"^step must be") as info:
        trial.report(step, {"y": 0.5})
    assert "\n" not in str(info.value)
    # nothing waits in the buffer: every later call works, the curve is intact
    trial.report(2, {"y": 0.2})
    other = exp.ask()
    assert other is not None
    assert trial.complete().state is th.TrialState.COMPLETED
    other.complete({"y": 0.0})
    assert exp.best is not None and exp.best.id == trial.id
    assert [r.step for r in exp.storage.get_trial(trial.id).reports] == [1, 2]


def test_whole_steps_of_any_integer_type_are_accepted(storage_url: str) -> None:
    import numpy as np

    exp = _exp(storage_url)
    trial = exp.ask()
    assert trial is not None
    for step in (0, 3.0, np.int64(5), 2**63 - 1):
        trial.report(step, {"y": 0.1})
    trial.complete()
    assert [r.step for r in exp.storage.get_trial(trial.id).reports] == [0, 3, 5, 2**63 - 1]


def test_a_metric_too_large_for_a_float_is_refused_in_one_line(storage_url: str) -> None:
    trial = _exp(storage_url).ask()
    assert trial is not None
    with pytest.raises(ValueError, match="metric 'y': an integer of about 401 digits is too large"):
        trial.report(1, {"y": 10**400})
    trial.report(1, {"y": 1.0})
    assert trial.complete().values == {"y": 1.0}


def test_malformed_report_lines_are_one_warning_each_and_the_sweep_goes_on(
    tmp_path: Path,
) -> None:
    script = "import sys, time\n"
    script += "bad = " + repr(BAD_LINES) + "\n"
    script += textwrap.dedent(
        """
        for line in bad:
            print(line, flush=True)
        print('tunehooks: {"step": 1, "y": 0.25}', flush=True)
        time.sleep(0.2)
        print('tunehooks: {"step": 2, "y": 0.5}', flush=True)
        """
    )
    (tmp_path / "train.py").write_text(script)
    sweep = parse_sweep(
        {
            "name": "bad",
            "program": "train.py",
            "command": ["${interpreter}", "${program}"],
            "method": "random",
            "metric": {"name": "y", "goal": "maximize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "budget": {"trials": 3},
            "resources": {"workers": 2, "gpus_per_trial": 0},
        },
        path=tmp_path / "sweep.yaml",
    )
    out = io.StringIO()
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    result = Launcher(
        sweep,
        storage=url,
        runs_dir=tmp_path / "runs",
        progress=LogProgress(out, timestamps=False),
        cwd=tmp_path,
        poll_interval=0.05,
    ).run()
    log = out.getvalue()
    assert result.completed == 3 and result.failed == 0, log
    trials = th.Experiment.load("bad", storage=url).get_trials()
    assert [t.state for t in trials] == [th.TrialState.COMPLETED] * 3
    assert all([r.step for r in t.reports] == [1, 2] for t in trials)
    warnings = [line for line in log.splitlines() if "ignored" in line]
    assert len(warnings) == 3 * len(BAD_LINES), log
    assert all(len(w) < 300 and w.startswith("trial ") for w in warnings)
    assert "Traceback" not in log and "OverflowError" not in log
