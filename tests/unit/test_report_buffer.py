"""Reports wait in memory between decision points, and are never lost on the way."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tunehooks as th
from tunehooks.trial import Decision, TrialRecord


def make(storage_url: str, **kw) -> th.Experiment:
    kw.setdefault("metrics", [th.Metric("acc", goal="maximize"), th.Metric("loss", "minimize")])
    kw.setdefault("budget", th.Budget(trials=4))
    return th.Experiment.create(
        "e", th.SearchSpace({"x": th.Float(0, 1)}), storage=storage_url, method="random", **kw
    )


def started(exp: th.Experiment, interval: float = 60.0) -> th.Trial:
    """The experiment's next trial, its reports held for ``interval`` seconds."""
    exp.report_interval = interval
    trial = exp.ask()
    assert trial is not None
    return trial


def stored_steps(storage_url: str, number: int = 0) -> list[int]:
    """What another process sees: a fresh handle on the same database."""
    other = th.Experiment.load("e", storage=storage_url)
    try:
        return [r.step for r in other.storage.get_trials(other.id)[number].reports]
    finally:
        other.storage.close()


def test_reports_between_decision_points_wait_and_are_written_at_complete(
    storage_url: str,
) -> None:
    exp = make(storage_url)
    trial = started(exp)
    for step in range(1, 6):
        assert trial.report(step, {"acc": step / 10, "loss": 1 / step}) is Decision.CONTINUE
    assert stored_steps(storage_url) == []  # none is due yet
    done = trial.complete()
    assert stored_steps(storage_url) == [1, 2, 3, 4, 5]
    assert done.values == {"acc": 0.5, "loss": 0.2}  # from the reports held in memory
    assert [r.step for r in done.reports] == [1, 2, 3, 4, 5]


def test_reports_are_written_once_the_interval_passed(storage_url: str) -> None:
    exp = make(storage_url)
    trial = started(exp, 0.2)
    trial.report(1, {"acc": 0.1})
    trial.report(2, {"acc": 0.2})
    assert stored_steps(storage_url) == []
    time.sleep(0.25)
    trial.report(3, {"acc": 0.3})  # the oldest waiting report is now due: both are written
    assert stored_steps(storage_url) == [1, 2, 3]
    exp.report_interval = 0.0
    trial.report(4, {"acc": 0.4})
    assert stored_steps(storage_url) == [1, 2, 3, 4]


def test_reading_the_trial_or_the_history_writes_the_waiting_reports_first(
    storage_url: str,
) -> None:
    exp = make(storage_url)
    trial = started(exp)
    for step in (1, 2, 3):
        trial.report(step, {"acc": step / 10})
    assert [r.step for r in trial.refresh().reports] == [1, 2, 3]
    trial.report(4, {"acc": 0.4})
    assert [r.step for r in exp.get_trials()[0].reports] == [1, 2, 3, 4]


class EveryThird:
    """A scheduler that decides at steps 3, 6, ... and stops trial 0 at step 6."""

    needs_history = True

    def __init__(self) -> None:
        self.seen: list[list[int]] = []

    def decides(self, trial_number: int, step: float, previous_step: float | None) -> bool:
        return step % 3 == 0

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        self.seen.append([r.step for r in trial.reports])
        return Decision.STOP if trial.reports[-1].step >= 6 else Decision.CONTINUE

    def new_trial_fidelity(self, history: Sequence[TrialRecord]) -> float | None:
        return None


def test_a_decision_point_sees_every_report_in_storage(storage_url: str) -> None:
    sched = EveryThird()
    exp = th.Experiment.create(
        "e",
        th.SearchSpace({"x": th.Float(0, 1)}),
        metrics=[th.Metric("acc", goal="maximize")],
        budget=th.Budget(trials=2),
        storage=storage_url,
        method="random",
        scheduler=sched,
    )
    trial = started(exp)
    for step in (1, 2):
        trial.report(step, {"acc": step / 10})
    assert stored_steps(storage_url) == []
    assert trial.report(3, {"acc": 0.3}) is Decision.CONTINUE
    assert stored_steps(storage_url) == [1, 2, 3]  # other workers' decisions see the rung
    decisions = [trial.report(step, {"acc": step / 10}) for step in (4, 5, 6)]
    assert decisions == [Decision.CONTINUE, Decision.CONTINUE, Decision.STOP]
    assert sched.seen == [[1, 2, 3], [1, 2, 3, 4, 5, 6]]
    assert trial.prune().state is th.TrialState.PRUNED
    assert stored_steps(storage_url) == [1, 2, 3, 4, 5, 6]


def test_a_trial_finished_elsewhere_refuses_the_waiting_reports(storage_url: str) -> None:
    exp = make(storage_url)
    trial = started(exp)
    trial.report(1, {"acc": 0.1})
    trial.report(2, {"acc": 0.2})
    other = th.Experiment.load("e", storage=storage_url)
    other.tell(trial.id, state=th.TrialState.FAILED, error="reclaimed by the launcher")
    with pytest.raises(th.TrialStateError, match="already FAILED"):
        trial.complete()
    assert trial.refresh().state is th.TrialState.FAILED
    assert trial.record.error == "reclaimed by the launcher"


def test_a_nan_report_is_written_with_the_waiting_ones_and_fails_the_trial(
    storage_url: str,
) -> None:
    exp = make(storage_url)
    trial = started(exp)
    trial.report(1, {"acc": 0.1})
    trial.report(2, {"acc": 0.2})
    assert trial.report(3, {"acc": float("nan")}) is Decision.STOP
    assert trial.state is th.TrialState.FAILED and "diverged" in (trial.record.error or "")
    assert stored_steps(storage_url) == [1, 2, 3]


def test_reports_still_in_memory_are_written_when_the_process_exits(
    storage_url: str, tmp_path: Path
) -> None:
    make(storage_url)
    script = tmp_path / "train.py"
    script.write_text(
        "import tunehooks as th\n"
        f"exp = th.Experiment.load('e', storage={storage_url!r})\n"
        "exp.report_interval = 3600.0\n"
        "trial = exp.ask()\n"
        "for step in range(1, 8):\n"
        "    trial.report(step, {'acc': step / 10})\n"
        "raise SystemExit(3)  # leaves without completing the trial\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert stored_steps(storage_url) == [1, 2, 3, 4, 5, 6, 7]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.floats(allow_nan=True, allow_infinity=True)))
def test_the_report_encoder_writes_what_json_dumps_writes(metrics: dict[str, float]) -> None:
    from tunehooks.storage._fastpath import _metrics_json

    assert _metrics_json(metrics) == json.dumps(metrics, sort_keys=True)
