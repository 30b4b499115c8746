"""Tune a small PyTorch MLP on scikit-learn's digits with a plain training loop.

Run: python examples/quickstart/tune_digits.py [--trials 12] [--storage sqlite:///tunehooks.db]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import tunehooks as th


def load_data() -> tuple[torch.Tensor, ...]:
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    scaler = StandardScaler().fit(x_tr)
    return (
        torch.tensor(scaler.transform(x_tr), dtype=torch.float32),
        torch.tensor(y_tr),
        torch.tensor(scaler.transform(x_va), dtype=torch.float32),
        torch.tensor(y_va),
    )


def train(trial: th.Trial, data: tuple[torch.Tensor, ...], epochs: int) -> None:
    x_tr, y_tr, x_va, y_va = data
    p = trial.params
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    width_in = x_tr.shape[1]
    for _ in range(p["layers"]):
        layers += [torch.nn.Linear(width_in, p["width"]), torch.nn.ReLU()]
        width_in = p["width"]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width_in, 10))
    if p["optimizer"] == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(), lr=p["lr"], momentum=p["momentum"]
        )
    else:
        opt = torch.optim.Adam(model.parameters(), lr=p["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(len(x_tr))
        for i in range(0, len(x_tr), p["batch_size"]):
            idx = perm[i : i + p["batch_size"]]
            opt.zero_grad()
            loss = loss_fn(model(x_tr[idx]), y_tr[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val_acc = (model(x_va).argmax(1) == y_va).float().mean().item()
        if trial.report(epoch, {"val_acc": val_acc, "train_loss": loss.item()}) is th.Decision.STOP:
            if not trial.is_finished:
                trial.prune()
            return
    trial.complete()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--storage", default=None)
    parser.add_argument("--name", default="quickstart-digits")
    parser.add_argument("--method", default="bayes")
    parser.add_argument(
        "--seed", type=int, default=None, help="fixed seed (default: a random one, stored)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)

    space = th.SearchSpace(
        {
            "lr": th.Float(1e-4, 0.3, log=True),
            "batch_size": th.Int(16, 256, power_of_two=True),
            "layers": th.Int(1, 3),
            "width": th.Int(16, 256, log=True),
            "optimizer": th.Categorical(["sgd", "adam"]),
            "momentum": th.Float(0.0, 0.99, condition={"optimizer": ["sgd"]}),
        }
    )
    exp = th.Experiment.create(
        args.name,
        space,
        metrics=[th.Metric("val_acc", goal="maximize"), th.Metric("train_loss", strategy="store")],
        budget=th.Budget(trials=args.trials),
        storage=args.storage,
        method=args.method,
        seed=args.seed,
        load_if_exists=True,
    )
    data = load_data()
    for trial in exp.ask_loop():
        train(trial, data, args.epochs)
        print(f"trial {trial.number}: {trial.state.value} val_acc={trial.record.value('val_acc')}")
    best = exp.best
    assert best is not None
    print(f"best val_acc={best.value('val_acc'):.4f} with {best.params}")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
