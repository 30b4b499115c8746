"""A plain PyTorch MLP on scikit-learn's digits, driven by `tunehooks launch`.

It does not import tunehooks: it takes its hyperparameters as flags and
reports by printing one line per epoch,

    tunehooks: {"step": 3, "val_acc": 0.95, "train_loss": 0.21}

which the launcher parses (a STOP from the scheduler ends the process). Run it
alone with `python train_digits.py --lr 0.01 --epochs 5`.
"""

from __future__ import annotations

import argparse
import json

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)

    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    scaler = StandardScaler().fit(x_tr)
    xt = torch.tensor(scaler.transform(x_tr), dtype=torch.float32)
    xv = torch.tensor(scaler.transform(x_va), dtype=torch.float32)
    yt, yv = torch.tensor(y_tr), torch.tensor(y_va)

    layers: list[torch.nn.Module] = []
    width_in = xt.shape[1]
    for _ in range(a.layers):
        layers += [torch.nn.Linear(width_in, a.width), torch.nn.ReLU(), torch.nn.Dropout(a.dropout)]
        width_in = a.width
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width_in, 10))
    if a.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(), lr=a.lr, momentum=a.momentum
        )
    else:
        opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = torch.nn.CrossEntropyLoss()

    for epoch in range(1, a.epochs + 1):
        model.train()
        perm = torch.randperm(len(xt))
        total = 0.0
        for i in range(0, len(xt), a.batch_size):
            idx = perm[i : i + a.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            val_acc = (model(xv).argmax(1) == yv).float().mean().item()
        report = {"step": epoch, "val_acc": round(val_acc, 5), "train_loss": total / len(xt)}
        print("tunehooks: " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
