"""MXNet 1.9.1 (own venv): the Module.fit hook and the Gluon loop helper on digits.

Run with: .venv-mxnet/bin/python -m pytest tests/mxnet
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")

from tunehooks.integrations.mxnet import (  # noqa: E402
    MissingMetricError,
    TuneHook,
    report_epoch,
    tune_loop,
)
from tunehooks.trial import Decision, TrialState  # noqa: E402

pytestmark = pytest.mark.mxnet


def _module() -> mx.mod.Module:
    mx.random.seed(0)
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, num_hidden=32, name="fc1")
    hidden = mx.sym.Activation(fc1, act_type="relu")
    fc2 = mx.sym.FullyConnected(hidden, num_hidden=10, name="fc2")
    out = mx.sym.SoftmaxOutput(fc2, name="softmax")
    return mx.mod.Module(out, context=mx.cpu())


def _iters(digits) -> tuple[mx.io.NDArrayIter, mx.io.NDArrayIter]:
    x_tr, y_tr, x_va, y_va = digits
    return (
        mx.io.NDArrayIter(x_tr, y_tr, batch_size=64, shuffle=True, label_name="softmax_label"),
        mx.io.NDArrayIter(x_va, y_va, batch_size=64, label_name="softmax_label"),
    )


def _fit(hook: TuneHook, digits, *, num_epoch: int, nan_at: int | None = None) -> None:
    train, val = _iters(digits)
    module = _module()

    def poison(epoch: int, symbol, arg_params, aux_params) -> None:
        # epoch_end_callback runs before the evaluation of the same epoch
        if nan_at is not None and epoch + 1 == nan_at:
            arg_params["fc2_weight"][:] = np.nan
            module.set_params(arg_params, aux_params, force_init=True)

    hook.fit(
        module,
        train,
        eval_data=val,
        eval_metric=["acc", "ce"],
        optimizer="adam",
        optimizer_params={"learning_rate": hook.trial.params["lr"]},
        num_epoch=num_epoch,
        epoch_end_callback=poison,
    )


def test_module_fit_hook_stops_at_the_scheduled_epoch(make_exp, digits) -> None:
    exp = make_exp(stop_at=2)
    hook = TuneHook(exp, monitor="val_accuracy")
    _fit(hook, digits, num_epoch=5)
    assert exp.scheduler.calls == [1, 2]
    rec = hook.trial.refresh()
    assert rec.state is TrialState.PRUNED
    assert [r.step for r in rec.reports] == [1, 2]
    assert set(rec.reports[0].metrics) == {"val_accuracy", "val_cross-entropy"}


def test_module_fit_hook_completes_with_the_last_evaluation(make_exp, digits) -> None:
    exp = make_exp()
    hook = TuneHook(exp, monitor="val_accuracy")
    _fit(hook, digits, num_epoch=3)
    rec = hook.trial.refresh()
    assert rec.state is TrialState.COMPLETED
    assert [r.step for r in rec.reports] == [1, 2, 3]
    assert rec.values["val_accuracy"] == rec.reports[-1].metrics["val_accuracy"] > 0.5


def test_missing_monitor_lists_the_evaluation_metrics(make_exp, digits) -> None:
    hook = TuneHook(make_exp(), monitor="val_acc")
    with pytest.raises(MissingMetricError, match=r"they are: 'val_accuracy', 'val_cross-entropy'"):
        _fit(hook, digits, num_epoch=2)
    assert hook.trial.refresh().state is TrialState.FAILED


def test_nan_metric_fails_the_trial_and_the_next_trial_runs(make_exp, digits) -> None:
    exp = make_exp(trials=2)
    for trial in exp.ask_loop():
        _fit(TuneHook(trial), digits, num_epoch=3, nan_at=2 if trial.number == 0 else None)
    first, second = exp.get_trials()
    assert first.state is TrialState.FAILED
    assert "'val_cross-entropy' is nan at step 2" in (first.error or "")
    assert second.state is TrialState.COMPLETED


def test_gluon_loop_reports_ndarrays_and_stops(make_exp, digits) -> None:
    from mxnet import autograd, gluon

    exp = make_exp(stop_at=2)
    x_tr, y_tr, x_va, y_va = (mx.nd.array(a) for a in digits)
    with tune_loop(exp, monitor="val_accuracy") as loop:
        mx.random.seed(0)
        net = gluon.nn.Sequential()
        net.add(gluon.nn.Dense(32, activation="relu"), gluon.nn.Dense(10))
        net.initialize(mx.init.Xavier())
        trainer = gluon.Trainer(
            net.collect_params(), "adam", {"learning_rate": loop.trial.params["lr"]}
        )
        loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
        trained = []
        for epoch in loop.epochs(max_epochs=5):
            for i in range(0, x_tr.shape[0], 64):
                with autograd.record():
                    loss = loss_fn(net(x_tr[i : i + 64]), y_tr[i : i + 64])
                loss.backward()
                trainer.step(loss.shape[0])
            acc = (net(x_va).argmax(axis=1) == y_va).mean()  # a one-element NDArray
            loop.report(epoch, {"val_accuracy": acc, "val_cross-entropy": loss.mean()})
            trained.append(epoch)
    assert trained == [1, 2]
    rec = loop.trial.refresh()
    assert rec.state is TrialState.PRUNED
    assert rec.reports[-1].metrics["val_accuracy"] > 0.5
    trial = exp.ask()
    assert report_epoch(trial, 1, {"val_accuracy": mx.nd.array([0.5])}) is Decision.CONTINUE


def test_frameworks_missing_here_name_their_extra() -> None:
    code = (
        "try:\n    import tunehooks.integrations.lightning\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "tunehooks[lightning]"' in out.stdout


def test_the_example_runs_a_local_sweep(storage_url, tmp_path) -> None:
    import os
    from pathlib import Path

    import tunehooks as th

    example = Path(__file__).parents[2] / "examples" / "mxnet" / "train.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNEHOOKS_")}
    proc = subprocess.run(
        [sys.executable, str(example), "--trials=2", "--epochs=2", f"--storage={storage_url}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    recs = th.Experiment.load("example-mxnet", storage=storage_url).get_trials()
    assert [r.state for r in recs] == [TrialState.COMPLETED, TrialState.COMPLETED]
    assert all([r.step for r in rec.reports] == [1, 2] for rec in recs)
