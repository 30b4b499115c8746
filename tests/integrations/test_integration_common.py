"""The framework-free logic shared by every integration."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import tunehooks as th
from tunehooks.context import ENV_EXPERIMENT, ENV_STORAGE, ENV_TRIAL_ID
from tunehooks.integrations._common import (
    MissingMetricError,
    Reporter,
    end_state,
    require,
    resolve_trial,
    scalar_metrics,
    to_float,
)
from tunehooks.trial import Decision, TrialPruned, TrialState


def test_to_float_reads_numbers_tensors_and_arrays_and_skips_the_rest() -> None:
    assert to_float(2) == 2.0
    assert to_float(np.float32(0.5)) == 0.5
    assert to_float(np.array([0.25])) == 0.25
    assert to_float(torch.tensor(1.5, requires_grad=True) * 2) == 3.0
    assert to_float(torch.tensor([7.0])) == 7.0
    assert to_float(torch.zeros(3)) is None
    assert to_float(np.zeros((2, 2))) is None
    assert to_float("0.5") is None
    assert to_float(None) is None
    assert scalar_metrics({"a": torch.tensor(1.0), "b": "text", "c": [1, 2]}) == {"a": 1.0}


def test_require_names_the_extra_to_install() -> None:
    with pytest.raises(ImportError, match=r'pip install "tunehooks\[keras\]"'):
        require("no_such_framework_xyz", extra="keras")


def test_end_state_table() -> None:
    assert end_state(finished=True, stopped_by_scheduler=True, error=ValueError()) is None
    assert end_state(finished=False, stopped_by_scheduler=False, error=None) is TrialState.COMPLETED
    assert end_state(finished=False, stopped_by_scheduler=True, error=None) is TrialState.PRUNED
    assert end_state(finished=False, stopped_by_scheduler=False, error=TrialPruned()) is (
        TrialState.PRUNED
    )
    assert end_state(finished=False, stopped_by_scheduler=True, error=RuntimeError()) is (
        TrialState.FAILED
    )


def test_resolve_trial_explicit_experiment_and_environment(
    make_exp, storage_url, monkeypatch
) -> None:
    exp = make_exp(trials=3)
    first = exp.ask()
    assert resolve_trial(first) is first
    second = resolve_trial(exp)
    assert second.number == 1 and second.state is TrialState.RUNNING
    monkeypatch.setenv(ENV_STORAGE, storage_url)
    monkeypatch.setenv(ENV_EXPERIMENT, exp.name)
    monkeypatch.setenv(ENV_TRIAL_ID, str(first.id))
    assert resolve_trial(None).id == first.id
    monkeypatch.delenv(ENV_TRIAL_ID)
    assert resolve_trial(None).number == 2  # no id: the experiment's next trial
    with pytest.raises(RuntimeError, match="spent its budget"):
        resolve_trial(exp)
    with pytest.raises(TypeError, match="trial: expected"):
        resolve_trial("trial-1")  # type: ignore[arg-type]


def test_reporter_completes_with_the_last_metrics(make_exp) -> None:
    exp = make_exp()
    with Reporter(exp, monitor="val_acc") as rep:
        for epoch in rep.epochs(max_epochs=3):
            assert rep.report(epoch, {"val_acc": torch.tensor(0.1 * epoch), "train_loss": 1.0}) is (
                Decision.CONTINUE
            )
    rec = exp.trial_handle(rep.trial.id).record
    assert rec.state is TrialState.COMPLETED
    assert [r.step for r in rec.reports] == [1, 2, 3]
    assert rec.values["val_acc"] == pytest.approx(0.3)


def test_reporter_prunes_when_the_scheduler_stops(make_exp) -> None:
    exp = make_exp(stop_at=2)
    with Reporter(exp) as rep:
        seen = []
        for epoch in rep.epochs(max_epochs=5):
            seen.append(epoch)
            rep.report(epoch, {"val_acc": 0.5})
    assert seen == [1, 2]
    assert rep.trial.refresh().state is TrialState.PRUNED


def test_reporter_fails_on_error_and_reraises(make_exp) -> None:
    exp = make_exp()
    with pytest.raises(ZeroDivisionError), Reporter(exp) as rep:
        rep.report(1, {"val_acc": 0.5})
        _ = 1 / 0
    rec = rep.trial.refresh()
    assert rec.state is TrialState.FAILED
    assert rec.error is not None and "ZeroDivisionError" in rec.error


def test_trial_pruned_in_the_body_prunes_and_is_swallowed(make_exp) -> None:
    exp = make_exp()
    with Reporter(exp) as rep:
        rep.report(1, {"val_acc": 0.5})
        raise TrialPruned("enough")
    assert rep.trial.refresh().state is TrialState.PRUNED


def test_missing_monitor_lists_the_metrics_that_exist_and_fails_the_trial(make_exp) -> None:
    exp = make_exp()
    rep = Reporter(exp, monitor="val_acc")
    with pytest.raises(MissingMetricError, match=r"'val_acc'.*'train_loss', 'val_accuracy'"):
        rep.report(1, {"val_accuracy": 0.5, "train_loss": 0.3})
    rec = rep.trial.refresh()
    assert rec.state is TrialState.FAILED and "val_accuracy" in (rec.error or "")


def test_nan_in_any_metric_fails_the_trial_and_the_next_one_runs(make_exp) -> None:
    exp = make_exp(trials=2)
    states = []
    for trial in exp.ask_loop():
        with Reporter(trial) as rep:
            for epoch in rep.epochs(max_epochs=3):
                loss = float("nan") if trial.number == 0 and epoch == 2 else 0.5
                rep.report(epoch, {"val_acc": 0.5, "train_loss": loss})
        states.append(trial.refresh())
    assert [s.state for s in states] == [TrialState.FAILED, TrialState.COMPLETED]
    assert "'train_loss' is nan at step 2" in (states[0].error or "")
    assert [r.step for r in states[0].reports] == [1, 2]  # kept with the end (one rule)


def test_non_writer_reads_but_never_writes(make_exp) -> None:
    exp = make_exp()
    trial = exp.ask()
    rep = Reporter(trial, monitor="val_acc", writer=False)
    assert rep.report(1, {"val_acc": 0.5}) is Decision.CONTINUE
    assert rep.finish() is None
    rec = trial.refresh()
    assert rec.state is TrialState.RUNNING and rec.reports == ()
    with pytest.raises(MissingMetricError):
        rep.report(2, {"loss": 0.5})  # every rank checks the monitor, so all raise alike
    assert trial.refresh().state is TrialState.RUNNING


def test_epochs_follow_the_trial_fidelity(storage_url) -> None:
    exp = th.Experiment.create(
        "fid",
        th.SearchSpace({"x": th.Float(0, 1)}),
        metrics=[th.Metric("y", goal="minimize")],
        budget=th.Budget(trials=1),
        storage=storage_url,
        method="random",
    )
    exp.enqueue({"x": 0.5}, fidelity=3)
    rep = Reporter(exp)
    assert rep.trial.fidelity == 3
    assert list(rep.epochs(max_epochs=10)) == [1, 2, 3]


def test_a_missing_framework_names_the_extra() -> None:
    code = (
        "import importlib.util, sys\n"
        "assert importlib.util.find_spec('mxnet') is None\n"
        "try:\n    import tunehooks.integrations.mxnet\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "tunehooks[mxnet]"' in out.stdout


def test_the_shared_logic_and_the_loop_helper_import_no_framework() -> None:
    code = (
        "import sys\nimport tunehooks.integrations.torch, tunehooks.integrations._common\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'lightning', 'keras', 'tensorflow', 'mxnet')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_trial_finished_elsewhere_stops_training_quietly(make_exp) -> None:
    exp = make_exp()
    with Reporter(exp) as rep:
        assert rep.report(1, {"val_acc": 0.5}) is Decision.CONTINUE
        exp.tell(rep.trial.id, state=TrialState.FAILED, error="reclaimed")  # another process
        assert rep.report(2, {"val_acc": 0.6}) is Decision.STOP
        assert rep.stopped
    rec = rep.trial.refresh()
    assert rec.state is TrialState.FAILED and rec.error == "reclaimed"
    assert [r.step for r in rec.reports] == [1]
