"""A Keras 3 MLP on scikit-learn's digits, tuned with one callback.

    python train.py                          # a local 10-trial sweep (Bayesian optimization)
    KERAS_BACKEND=torch python train.py      # the same on Keras' torch backend
    tunehooks launch sweep.yaml              # the launcher runs this file once per trial

Under the launcher the trial comes from the environment (``TuneCallback()`` with no
argument reads it), ``--epochs`` is the trial's fidelity, and ASHA stops weak trials
through ``model.stop_training``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import tunehooks as th
from tunehooks.integrations.keras import TuneCallback

SPACE = th.SearchSpace(
    {
        "lr": th.Float(1e-3, 0.1, log=True),
        "width": th.Int(16, 128, log=True),
        "batch_size": th.Categorical([32, 64, 128]),
        "dropout": th.Float(0.0, 0.5),
    }
)
METRICS = [th.Metric("val_accuracy", goal="maximize"), th.Metric("loss", strategy="store")]


def train(trial: th.Trial | None, max_epochs: int) -> None:
    callback = TuneCallback(trial, monitor="val_accuracy")  # None: the launcher's trial
    p = callback.trial.params
    epochs = round(callback.trial.fidelity) if callback.trial.fidelity else max_epochs
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    scaler = StandardScaler().fit(x_tr)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(p["width"], activation="relu"),
            keras.layers.Dropout(p["dropout"]),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(p["lr"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,  # XLA compilation costs more than it saves on a model this small
    )
    model.fit(
        scaler.transform(x_tr),
        y_tr,
        validation_data=(scaler.transform(x_va), y_va),
        epochs=epochs,
        batch_size=p["batch_size"],
        callbacks=[callback],  # the one-line change
        verbose=0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=9, help="epochs (the launcher's fidelity)")
    parser.add_argument("--trials", type=int, default=10, help="standalone sweep: trials")
    parser.add_argument("--storage", default=None, help="standalone sweep: database URL")
    parser.add_argument("--name", default="example-keras", help="standalone sweep: experiment")
    args = parser.parse_args()
    epochs = round(args.epochs)
    if os.environ.get("TUNEHOOKS_EXPERIMENT"):  # run by `tunehooks launch` (or as a worker)
        train(None, epochs)
        return
    exp = th.Experiment.create(
        args.name,
        SPACE,
        metrics=METRICS,
        budget=th.Budget(trials=args.trials),
        storage=args.storage,
        load_if_exists=True,
    )
    for trial in exp.ask_loop():
        train(trial, epochs)
        rec = trial.refresh()
        print(f"trial {rec.number} {rec.state.value} val_accuracy={rec.value('val_accuracy')}")
    best = exp.best
    if best is not None:
        print(f"best val_accuracy={best.value('val_accuracy'):.4f} with {best.params}")


if __name__ == "__main__":
    main()
