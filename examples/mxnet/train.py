"""An MXNet 1.9 Module on scikit-learn's digits, tuned with one hook.

Runs in the MXNet environment (MXNet 1.9.1 needs numpy < 1.24; see scripts/setup.sh --all):

    .venv-mxnet/bin/python train.py                    # a local 10-trial sweep
    .venv-mxnet/bin/tunehooks launch sweep.yaml        # the launcher runs this file per trial

Under the launcher the trial comes from the environment (``TuneHook()`` with no
argument reads it), ``--epochs`` is the trial's fidelity, and ASHA stops weak trials:
``Module.fit`` has no stop flag, so the hook ends it and ``hook.fit`` finishes the trial.
"""

from __future__ import annotations

import argparse
import logging
import os

import mxnet as mx
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import tunehooks as th
from tunehooks.integrations.mxnet import TuneHook

SPACE = th.SearchSpace(
    {
        "lr": th.Float(1e-3, 0.1, log=True),
        "width": th.Int(16, 128, log=True),
        "batch_size": th.Categorical([32, 64, 128]),
        "dropout": th.Float(0.0, 0.5),
    }
)
METRICS = [
    th.Metric("val_accuracy", goal="maximize"),
    th.Metric("val_cross-entropy", strategy="store"),
]


def build(width: int, dropout: float) -> mx.mod.Module:
    data = mx.sym.Variable("data")
    hidden = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=width), act_type="relu")
    hidden = mx.sym.Dropout(hidden, p=dropout)
    out = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(hidden, num_hidden=10), name="softmax")
    return mx.mod.Module(out, context=mx.cpu())


def train(trial: th.Trial | None, max_epochs: int) -> None:
    hook = TuneHook(trial, monitor="val_accuracy")  # None: the launcher's trial
    p = hook.trial.params
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    scaler = StandardScaler().fit(x_tr)

    def batches(a: np.ndarray, b: np.ndarray, shuffle: bool) -> mx.io.NDArrayIter:
        return mx.io.NDArrayIter(
            scaler.transform(a).astype(np.float32),
            b.astype(np.float32),
            batch_size=p["batch_size"],
            shuffle=shuffle,
            label_name="softmax_label",
        )

    mx.random.seed(0)
    hook.fit(  # Module.fit with the hook as eval_end_callback; num_epoch = the trial's fidelity
        build(p["width"], p["dropout"]),
        batches(x_tr, y_tr, True),
        eval_data=batches(x_va, y_va, False),
        eval_metric=["acc", "ce"],
        optimizer="adam",
        optimizer_params={"learning_rate": p["lr"]},
        num_epoch=round(hook.trial.fidelity or max_epochs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=9, help="epochs (the launcher's fidelity)")
    parser.add_argument("--trials", type=int, default=10, help="standalone sweep: trials")
    parser.add_argument("--storage", default=None, help="standalone sweep: database URL")
    parser.add_argument("--name", default="example-mxnet", help="standalone sweep: experiment")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.WARNING)
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
