"""Keras 3 trials checkpoint with ``save_weights`` (weights and optimizer state): a trial
paused at epoch 3 and promoted to 9 trains 9 epochs in all, continues its steps and ends
with the weights of an unbroken 9-epoch run. Bit for bit with ``shuffle=False``; with
Keras's shuffling the resumed epochs see another data order (Keras does not expose that
RNG), so only the training continues, not the exact numbers."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from _keras_digits import build
from _resumable import Never, PauseThenPromote

import tunehooks as th
from tunehooks.integrations.keras import TuneCallback
from tunehooks.trial import TrialState


@pytest.fixture(autouse=True)
def _checkpoint_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEHOOKS_CHECKPOINT_DIR", str(tmp_path / "ckpt"))


def _exp(storage_url: str, name: str, scheduler) -> th.Experiment:
    return th.Experiment.create(
        name,
        th.SearchSpace({"lr": th.Float(0.005, 0.01)}),
        metrics=[th.Metric("val_accuracy", goal="maximize")],
        budget=th.Budget(trials=1),
        fidelity=th.Fidelity(min=1, max=9),
        storage=storage_url,
        method="random",
        seed=0,
        scheduler=scheduler,
    )


class Epochs(keras.callbacks.Callback):
    def __init__(self, seen: list[int]) -> None:
        super().__init__()
        self.seen = seen

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.seen.append(epoch + 1)


def _fit(exp: th.Experiment, digits, seen: list[int]):
    cb = TuneCallback(exp, monitor="val_accuracy")
    model = build(0.01)
    x_tr, y_tr, x_va, y_va = digits
    model.fit(
        x_tr,
        y_tr,
        validation_data=(x_va, y_va),
        epochs=round(cb.trial.fidelity),
        batch_size=64,
        shuffle=False,
        callbacks=[cb, Epochs(seen)],
        verbose=0,
    )
    return model, cb


def test_paused_at_3_and_promoted_to_9_matches_an_unbroken_run(storage_url, digits) -> None:
    exp = _exp(storage_url, "paused", PauseThenPromote(rung=3, top=9))
    seen: list[int] = []
    _, first = _fit(exp, digits, seen)
    assert first.trial.state is TrialState.PAUSED and seen == [1, 2, 3]
    resumed, second = _fit(exp, digits, seen)
    assert second.trial.id == first.trial.id and second.trial.is_resumed
    assert seen == list(range(1, 10))  # 9 epochs in all
    rec = exp.get_trials()[0]
    assert rec.state is TrialState.COMPLETED
    assert [r.step for r in rec.reports] == list(range(1, 10))

    straight, _ = _fit(_exp(storage_url, "whole", Never()), digits, [])
    for a, b in zip(resumed.get_weights(), straight.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # bit for bit
    opt_a = [np.asarray(v) for v in resumed.optimizer.variables]
    opt_b = [np.asarray(v) for v in straight.optimizer.variables]
    for a, b in zip(opt_a, opt_b, strict=True):
        np.testing.assert_array_equal(a, b)  # the optimizer's state (Adam moments, step)


def test_ctrl_c_pauses_the_trial_and_the_next_fit_resumes_it(storage_url, digits) -> None:
    class CtrlC(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None) -> None:
            if len(seen) == 5 and batch == 3:
                raise KeyboardInterrupt

    exp = _exp(storage_url, "ctrl-c", Never())
    seen: list[int] = []
    cb = TuneCallback(exp, monitor="val_accuracy")
    x_tr, y_tr, x_va, y_va = digits
    with pytest.raises(KeyboardInterrupt):
        build(0.01).fit(
            x_tr, y_tr, validation_data=(x_va, y_va), epochs=9, batch_size=64, verbose=0,
            callbacks=[cb, Epochs(seen), CtrlC()],
        )  # fmt: skip
    rec = exp.get_trials()[0]
    assert rec.state is TrialState.PAUSED and rec.interrupted and rec.last_step == 4
    _, again = _fit(exp, digits, seen)
    assert again.trial.id == rec.id and seen == [1, 2, 3, 4, 5, 5, 6, 7, 8, 9]
    assert [r.step for r in exp.get_trials()[0].reports] == list(range(1, 10))


@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="reruns this file on the torch backend"
)
def test_the_same_on_the_torch_backend(tmp_path) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("torch")
    env = {**os.environ, "KERAS_BACKEND": "torch", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
         "-k", "paused or ctrl_c", "--basetemp", str(tmp_path / "t")],
        env=env, cwd=Path(__file__).parent, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and "2 passed" in proc.stdout, proc.stdout[-3000:]
