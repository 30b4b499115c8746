"""Keras 3's TuneCallback on the TensorFlow backend (in process) and the torch backend
(in a subprocess: KERAS_BACKEND must be set before keras is imported)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("keras")

from _keras_digits import PoisonAt, RaiseAt, build, fit

from tunehooks.integrations._common import MissingMetricError
from tunehooks.integrations.keras import TuneCallback
from tunehooks.trial import TrialState, TrialStateError

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent


def test_stop_sets_stop_training_and_prunes(make_exp, digits) -> None:
    exp = make_exp(stop_at=2, monitor="val_accuracy")
    cb = TuneCallback(exp, monitor="val_accuracy")
    history = fit(build(**cb.trial.params), digits, [cb], epochs=5)
    assert len(history.history["loss"]) == 2
    assert exp.scheduler.calls == [1, 2]  # type: ignore[attr-defined]
    rec = cb.trial.refresh()
    assert rec.state is TrialState.PRUNED
    assert set(rec.reports[0].metrics) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_completes_with_the_last_epoch_logs(make_exp, digits) -> None:
    exp = make_exp(monitor="val_accuracy")
    cb = TuneCallback(exp, monitor="val_accuracy")
    history = fit(build(**cb.trial.params), digits, [cb], epochs=3)
    rec = cb.trial.refresh()
    assert rec.state is TrialState.COMPLETED
    assert [r.step for r in rec.reports] == [1, 2, 3]
    assert rec.values["val_accuracy"] == pytest.approx(history.history["val_accuracy"][-1])
    assert rec.values["val_accuracy"] > 0.5


def test_missing_monitor_lists_the_logs(make_exp, digits) -> None:
    exp = make_exp(monitor="val_acc")
    cb = TuneCallback(exp, monitor="val_acc")
    with pytest.raises(MissingMetricError, match=r"they are: 'accuracy', 'loss', 'val_accuracy'"):
        fit(build(0.01), digits, [cb], epochs=2)
    assert cb.trial.refresh().state is TrialState.FAILED


def test_epochs_without_validation_are_not_reported(make_exp, digits) -> None:
    exp = make_exp(monitor="val_accuracy")
    cb = TuneCallback(exp, monitor="val_accuracy")
    x_tr, y_tr, x_va, y_va = digits
    build(0.01).fit(
        x_tr,
        y_tr,
        validation_data=(x_va, y_va),
        validation_freq=2,
        epochs=4,
        callbacks=[cb],
        verbose=0,
    )
    rec = cb.trial.refresh()
    assert [r.step for r in rec.reports] == [2, 4]
    assert rec.state is TrialState.COMPLETED


def test_no_validation_at_all_fails_with_the_metrics_that_exist(make_exp, digits) -> None:
    exp = make_exp(monitor="val_accuracy")
    cb = TuneCallback(exp, monitor="val_accuracy")
    x_tr, y_tr, _, _ = digits
    with pytest.raises(MissingMetricError, match=r"they are: 'accuracy', 'loss'"):
        build(0.01).fit(x_tr, y_tr, epochs=2, callbacks=[cb], verbose=0)
    assert cb.trial.refresh().state is TrialState.FAILED


def test_nan_loss_fails_the_trial_and_the_next_trial_runs(make_exp, digits) -> None:
    exp = make_exp(trials=2, monitor="val_accuracy")
    epochs = []
    for trial in exp.ask_loop():
        extra = [PoisonAt(2)] if trial.number == 0 else []
        history = fit(build(**trial.params), digits, [*extra, TuneCallback(trial)], epochs=3)
        epochs.append(len(history.history["loss"]))
    first, second = exp.get_trials()
    assert first.state is TrialState.FAILED
    assert "is nan at step 2" in (first.error or "")
    assert second.state is TrialState.COMPLETED
    assert epochs == [2, 3]


def test_context_manager_fails_the_trial_when_fit_raises(make_exp, digits) -> None:
    exp = make_exp(monitor="val_accuracy")
    x_tr, y_tr, x_va, y_va = digits
    with pytest.raises(ValueError), TuneCallback(exp) as cb:
        fit(build(0.01), (x_tr[:, :10], y_tr, x_va, y_va), [cb], epochs=2)  # wrong input width
    rec = cb.trial.refresh()
    assert rec.state is TrialState.FAILED and (rec.error or "").startswith("ValueError")


def test_a_fit_that_raises_inside_trials_fails_with_the_error(make_exp, digits) -> None:
    # the body goes on with the next trial; Keras calls no callback on the error
    exp = make_exp(trials=2, monitor="val_accuracy")
    for trial in exp.ask_loop():
        extra = [RaiseAt(3)] if trial.number == 0 else []
        with contextlib.suppress(RuntimeError):
            fit(build(**trial.params), digits, [TuneCallback(trial), *extra], epochs=4)
    first, second = exp.get_trials()
    assert first.state is TrialState.FAILED
    assert first.error == "RuntimeError: boom at epoch 3"
    assert [r.step for r in first.reports] == [1, 2, 3]
    assert second.state is TrialState.COMPLETED
    assert exp.best.number == 1


def test_a_fit_that_raises_out_of_the_loop_fails_with_the_error(make_exp, digits) -> None:
    exp = make_exp(trials=2, monitor="val_accuracy")
    x_tr, y_tr, x_va, y_va = digits
    with pytest.raises(ValueError):
        for trial in exp.ask_loop():  # wrong input width: the model's train step raises
            fit(build(**trial.params), (x_tr[:, :10], y_tr, x_va, y_va), [TuneCallback(trial)], 2)
    (rec,) = exp.get_trials()
    assert rec.state is TrialState.FAILED and (rec.error or "").startswith("ValueError")


def test_a_monitor_named_otherwise_is_reported_as_the_objective(make_exp, digits) -> None:
    exp = make_exp(stop_at=2, monitor="val_acc")  # the experiment's name for val_accuracy
    cb = TuneCallback(exp, monitor="val_accuracy")
    history = fit(build(**cb.trial.params), digits, [cb], epochs=4)
    assert len(history.history["loss"]) == 2  # pruned at its rung: the scheduler saw val_acc
    rec = cb.trial.refresh()
    assert rec.state is TrialState.PRUNED
    assert [r.metrics["val_acc"] for r in rec.reports] == [
        r.metrics["val_accuracy"] for r in rec.reports
    ]


def test_an_objective_missing_from_the_logs_stops_at_the_first_epoch(make_exp, digits) -> None:
    exp = make_exp(monitor="val_acc")
    cb = TuneCallback(exp)  # no monitor: nothing says which log is val_acc
    history = None
    with pytest.raises(MissingMetricError, match=r"optimizes 'val_acc'.*'val_accuracy'"):
        history = fit(build(0.01), digits, [cb], epochs=4)
    assert history is None and cb.trial.refresh().state is TrialState.FAILED
    assert [r.step for r in cb.trial.record.reports] == []


def test_two_fits_in_the_loop_continue_one_curve(make_exp, digits) -> None:
    # transfer learning: the head, then fine-tuning, with or without initial_epoch
    exp = make_exp(trials=2, monitor="val_accuracy")
    for trial in exp.ask_loop():
        model = build(**trial.params)
        cb = TuneCallback(trial, monitor="val_accuracy")
        fit(model, digits, [cb], epochs=2)
        if trial.number == 0:
            fit(model, digits, [TuneCallback(trial, monitor="val_accuracy")], epochs=3)
        else:
            x_tr, y_tr, x_va, y_va = digits
            model.fit(
                x_tr,
                y_tr,
                validation_data=(x_va, y_va),
                initial_epoch=2,
                epochs=5,
                callbacks=[cb],
                verbose=0,
            )
        assert trial.refresh().state is TrialState.RUNNING  # the loop completes it
    for rec in exp.get_trials():
        assert rec.state is TrialState.COMPLETED
        assert [r.step for r in rec.reports] == [1, 2, 3, 4, 5]
        assert rec.values["val_accuracy"] == rec.reports[-1].metrics["val_accuracy"]


def test_two_fits_in_a_with_block_continue_one_curve(make_exp, digits) -> None:
    exp = make_exp(monitor="val_accuracy")
    with TuneCallback(exp, monitor="val_accuracy") as cb:
        model = build(**cb.trial.params)
        fit(model, digits, [cb], epochs=2)
        fit(model, digits, [cb], epochs=2)
    rec = cb.trial.refresh()
    assert rec.state is TrialState.COMPLETED
    assert [r.step for r in rec.reports] == [1, 2, 3, 4]


def test_a_second_fit_on_a_completed_trial_is_refused(make_exp, digits) -> None:
    exp = make_exp(monitor="val_accuracy")
    cb = TuneCallback(exp, monitor="val_accuracy")
    model = build(**cb.trial.params)
    fit(model, digits, [cb], epochs=2)
    with pytest.raises(TrialStateError, match=r"COMPLETED by the end of an earlier model\.fit"):
        fit(model, digits, [cb], epochs=2)
    rec = cb.trial.refresh()
    assert rec.state is TrialState.COMPLETED and [r.step for r in rec.reports] == [1, 2]


def test_torch_backend(storage_url) -> None:
    env = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": str(HERE)}
    proc = subprocess.run(
        [sys.executable, str(HERE / "_keras_torch_script.py"), storage_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["backend"] == "torch"
    assert out["epochs"] == 2
    assert out["state"] == "PRUNED"
    assert out["steps"] == [1, 2]
    assert out["loop"] == [["FAILED", "RuntimeError: boom at epoch 2"], ["COMPLETED", None]]
