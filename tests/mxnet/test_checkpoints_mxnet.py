"""MXNet checkpoints: ``TuneHook.fit`` (Module ``save_checkpoint``, resumed as
``Module.load`` would) and a Gluon loop (``GluonState``: ``save_parameters`` and the
trainer's states) paused at epoch 3 and promoted to 9 train 9 epochs in all and end with
the weights of an unbroken run (bit for bit without shuffling: MXNet's iterators shuffle
with numpy's RNG, which tunehooks does not save here)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")

import tunehooks as th  # noqa: E402
from tunehooks.integrations.mxnet import GluonState, TuneHook, tune_loop  # noqa: E402
from tunehooks.trial import Decision, TrialRecord, TrialState  # noqa: E402

pytestmark = pytest.mark.mxnet


class PauseThenPromote:
    needs_history = True
    pauses = True

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        stop = (trial.fidelity or 9) <= 3 and trial.reports[-1].step >= 3
        return Decision.STOP if stop else Decision.CONTINUE

    def new_trial_fidelity(self, history: Sequence[TrialRecord]) -> float | None:
        return 3.0

    def promote(self, history: Sequence[TrialRecord], *, more_trials: bool) -> TrialRecord | None:
        paused = [t for t in history if t.state is TrialState.PAUSED]
        return dataclasses.replace(paused[0], fidelity=9.0) if paused else None


class Never:
    needs_history = False

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        return Decision.CONTINUE

    def new_trial_fidelity(self, history: Sequence[TrialRecord]) -> float | None:
        return None


@pytest.fixture(autouse=True)
def _checkpoint_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEHOOKS_CHECKPOINT_DIR", str(tmp_path / "ckpt"))


def _exp(storage_url: str, name: str, scheduler) -> th.Experiment:
    return th.Experiment.create(
        name,
        th.SearchSpace({"lr": th.Float(0.05, 0.1)}),
        metrics=[th.Metric("val_accuracy", goal="maximize")],
        budget=th.Budget(trials=1),
        fidelity=th.Fidelity(min=1, max=9),
        storage=storage_url,
        method="random",
        seed=0,
        scheduler=scheduler,
    )


def _module_fit(exp, digits, seen: list[int]):
    mx.random.seed(0)
    np.random.seed(0)
    data = mx.sym.Variable("data")
    hidden = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=32, name="fc1"), "relu")
    out = mx.sym.SoftmaxOutput(
        mx.sym.FullyConnected(hidden, num_hidden=10, name="fc2"), name="softmax"
    )
    module = mx.mod.Module(out, context=mx.cpu())
    x_tr, y_tr, x_va, y_va = digits
    train = mx.io.NDArrayIter(x_tr, y_tr, batch_size=64, label_name="softmax_label")
    val = mx.io.NDArrayIter(x_va, y_va, batch_size=64, label_name="softmax_label")
    hook = TuneHook(exp, monitor="val_accuracy")
    hook.fit(
        module, train, eval_data=val, optimizer="sgd",
        optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
        initializer=mx.init.Xavier(),
        epoch_end_callback=lambda epoch, *a: seen.append(epoch + 1),
    )  # fmt: skip
    return module, hook


def test_module_fit_paused_at_3_and_promoted_to_9_matches_an_unbroken_run(
    storage_url, digits
) -> None:
    exp = _exp(storage_url, "module", PauseThenPromote())
    seen: list[int] = []
    _, first = _module_fit(exp, digits, seen)
    assert first.trial.state is TrialState.PAUSED and seen == [1, 2, 3]
    resumed, second = _module_fit(exp, digits, seen)
    assert second.trial.id == first.trial.id and seen == list(range(1, 10))
    rec = exp.get_trials()[0]
    assert rec.state is TrialState.COMPLETED and [r.step for r in rec.reports] == list(range(1, 10))
    straight, _ = _module_fit(_exp(storage_url, "whole", Never()), digits, [])
    a, b = resumed.get_params()[0], straight.get_params()[0]
    for name in a:
        np.testing.assert_array_equal(a[name].asnumpy(), b[name].asnumpy())


def _gluon_run(exp, digits, seen: list[int]):
    from mxnet import autograd, gluon

    mx.random.seed(0)
    x_tr, y_tr, x_va, y_va = (mx.nd.array(a) for a in digits)
    net = gluon.nn.Sequential()
    net.add(gluon.nn.Dense(32, activation="relu", in_units=64), gluon.nn.Dense(10, in_units=32))
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    with tune_loop(exp, monitor="val_accuracy", state=GluonState(net, trainer)) as loop:
        for epoch in loop.epochs(max_epochs=9):
            seen.append(epoch)
            for i in range(0, x_tr.shape[0], 64):
                with autograd.record():
                    loss = loss_fn(net(x_tr[i : i + 64]), y_tr[i : i + 64])
                loss.backward()
                trainer.step(loss.shape[0])
            loop.report(epoch, {"val_accuracy": (net(x_va).argmax(axis=1) == y_va).mean()})
    return net, loop


def test_gluon_loop_paused_at_3_and_promoted_to_9_matches_an_unbroken_run(
    storage_url, digits
) -> None:
    exp = _exp(storage_url, "gluon", PauseThenPromote())
    seen: list[int] = []
    _, first = _gluon_run(exp, digits, seen)
    assert first.trial.state is TrialState.PAUSED and seen == [1, 2, 3]
    resumed, second = _gluon_run(exp, digits, seen)
    assert second.restored_step == 3 and seen == list(range(1, 10))
    assert [r.step for r in exp.get_trials()[0].reports] == list(range(1, 10))
    straight, _ = _gluon_run(_exp(storage_url, "whole", Never()), digits, [])
    for p, q in zip(
        resumed.collect_params().values(), straight.collect_params().values(), strict=True
    ):
        np.testing.assert_array_equal(p.data().asnumpy(), q.data().asnumpy())  # Adam's counts too
