"""A plain PyTorch loop on scikit-learn's digits, tuned with tunehooks.

    python train.py                          # a local 10-trial sweep (Bayesian optimization)
    tunehooks launch sweep.yaml              # the launcher runs this file once per trial

Under the launcher the trial comes from the environment (``tunehooks.current_trial()``),
``--epochs`` is the trial's fidelity, and ASHA stops weak trials through ``loop.report``.
"""

from __future__ import annotations

import argparse
import os

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import tunehooks as th
from tunehooks.integrations.torch import tune_loop

SPACE = th.SearchSpace(
    {
        "lr": th.Float(1e-3, 0.1, log=True),
        "width": th.Int(16, 128, log=True),
        "batch_size": th.Categorical([32, 64, 128]),
        "dropout": th.Float(0.0, 0.5),
    }
)
METRICS = [th.Metric("val_acc", goal="maximize"), th.Metric("train_loss", strategy="store")]


def load_data() -> tuple[torch.Tensor, ...]:
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    scaler = StandardScaler().fit(x_tr)
    return (
        torch.tensor(scaler.transform(x_tr), dtype=torch.float32),
        torch.tensor(y_tr),
        torch.tensor(scaler.transform(x_va), dtype=torch.float32),
        torch.tensor(y_va),
    )


def train(trial: th.Trial, max_epochs: int) -> None:
    x_tr, y_tr, x_va, y_va = load_data()
    p = trial.params
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, p["width"]),
        torch.nn.ReLU(),
        torch.nn.Dropout(p["dropout"]),
        torch.nn.Linear(p["width"], 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=p["lr"])
    with tune_loop(trial, monitor="val_acc") as loop:  # COMPLETED / PRUNED / FAILED on exit
        for epoch in loop.epochs(max_epochs):  # up to the trial's fidelity; ends on STOP
            model.train()
            perm = torch.randperm(len(x_tr))
            for i in range(0, len(x_tr), p["batch_size"]):
                idx = perm[i : i + p["batch_size"]]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                val_acc = (model(x_va).argmax(1) == y_va).float().mean()
            loop.report(epoch, {"val_acc": val_acc, "train_loss": loss})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=9, help="epochs (the launcher's fidelity)")
    parser.add_argument("--trials", type=int, default=10, help="standalone sweep: trials")
    parser.add_argument("--storage", default=None, help="standalone sweep: database URL")
    parser.add_argument("--name", default="example-torch", help="standalone sweep: experiment")
    args = parser.parse_args()
    torch.set_num_threads(1)
    epochs = round(args.epochs)
    if os.environ.get("TUNEHOOKS_EXPERIMENT"):  # run by `tunehooks launch` (or as a worker)
        train(th.current_trial(), epochs)
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
        print(f"trial {rec.number} {rec.state.value} val_acc={rec.value('val_acc')} {rec.params}")
    best = exp.best
    if best is not None:
        print(f"best val_acc={best.value('val_acc'):.4f} with {best.params}")


if __name__ == "__main__":
    main()
