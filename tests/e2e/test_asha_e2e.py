"""End to end: a real Keras sweep on digits, pruned by ASHA through the callback."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import tunehooks as th
from tunehooks.trial import TrialState

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
keras = pytest.importorskip("keras")

pytestmark = pytest.mark.slow


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    return tuple(train_test_split(X, y, test_size=0.25, random_state=0, stratify=y))  # type: ignore[return-value]


def test_asha_prunes_a_real_keras_sweep_and_status_shows_the_curves(tmp_path):
    from tunehooks.integrations.keras import TuneCallback

    storage = f"sqlite:///{tmp_path / 'asha.db'}"
    space = th.SearchSpace(
        {"lr": th.Float(1e-5, 3e-2, log=True), "width": th.Int(8, 64, power_of_two=True)}
    )
    exp = th.Experiment.create(
        "keras-asha",
        space,
        metrics=[th.Metric("val_accuracy", goal="maximize")],
        budget=th.Budget(trials=8),
        storage=storage,
        method="random",
        seed=4,
        fidelity=th.Fidelity(min=1, max=9, eta=3, scheduler="asha"),
    )
    Xtr, Xva, ytr, yva = digits()
    keras.utils.set_random_seed(0)
    for trial in exp.ask_loop():
        model = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(trial.params["width"], activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(trial.params["lr"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(
            Xtr,
            ytr,
            validation_data=(Xva, yva),
            epochs=int(trial.fidelity),
            batch_size=64,
            verbose=0,
            callbacks=[TuneCallback(trial, monitor="val_accuracy")],
        )
    trials = exp.get_trials()
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    completed = [t for t in trials if t.state is TrialState.COMPLETED]
    assert pruned and completed
    # a pruned trial stopped at a rung (1 or 3 epochs) and kept its curve
    assert all(len(t.reports) in (1, 3) for t in pruned)
    assert all("val_accuracy" in t.reports[-1].metrics for t in pruned)
    assert all(len(t.reports) == 9 for t in completed)
    assert exp.best is not None and exp.best.value("val_accuracy") > 0.8
    _, cost = exp.budget_used()
    assert cost < len(trials)  # pruning saved epochs

    out = subprocess.run(
        [sys.executable, "-m", "tunehooks.cli", "status", "keras-asha", "--storage", storage],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"pruned={len(pruned)}" in out
    lines = [ln for ln in out.splitlines() if " PRUNED " in f" {ln} "]
    assert len(lines) == len(pruned)
    for t in pruned:  # each pruned trial's row shows its curve
        curve = " ".join(f"{r.metrics['val_accuracy']:.4g}" for r in t.reports)
        assert any(ln.lstrip().startswith(str(t.number)) and curve in ln for ln in lines)
