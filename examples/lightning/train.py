"""A Lightning MLP on scikit-learn's digits, tuned with one callback.

    python train.py                          # a local 10-trial sweep (Bayesian optimization)
    tunehooks launch sweep.yaml              # the launcher runs this file once per trial

Under the launcher the trial comes from the environment: ``TuneCallback()`` with no
argument reads it (on every DDP rank alike), ``--epochs`` is the trial's fidelity, and
ASHA stops weak trials through ``trainer.should_stop``.
"""

from __future__ import annotations

import argparse
import os

import lightning.pytorch as pl
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch.utils.data import DataLoader, TensorDataset

import tunehooks as th
from tunehooks.integrations.lightning import TuneCallback

SPACE = th.SearchSpace(
    {
        "lr": th.Float(1e-3, 0.1, log=True),
        "width": th.Int(16, 128, log=True),
        "batch_size": th.Categorical([32, 64, 128]),
        "dropout": th.Float(0.0, 0.5),
    }
)
METRICS = [th.Metric("val_acc", goal="maximize"), th.Metric("train_loss", strategy="store")]


class DigitsMLP(pl.LightningModule):
    def __init__(self, lr: float, width: int, dropout: float, batch_size: int) -> None:
        super().__init__()
        self.lr, self.batch_size = lr, batch_size
        self.net = torch.nn.Sequential(
            torch.nn.Linear(64, width),
            torch.nn.ReLU(),
            torch.nn.Dropout(dropout),
            torch.nn.Linear(width, 10),
        )

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], idx: int) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], idx: int) -> None:
        x, y = batch
        self.log("val_acc", (self.net(x).argmax(1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def loaders(batch_size: int) -> tuple[DataLoader, DataLoader]:
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    scaler = StandardScaler().fit(x_tr)

    def ds(a, b):  # type: ignore[no-untyped-def]
        return TensorDataset(
            torch.tensor(scaler.transform(a), dtype=torch.float32), torch.tensor(b)
        )

    return (
        DataLoader(ds(x_tr, y_tr), batch_size=batch_size, shuffle=True),
        DataLoader(ds(x_va, y_va), batch_size=512),
    )


def train(trial: th.Trial | None, max_epochs: int) -> None:
    callback = TuneCallback(trial, monitor="val_acc")  # None: the launcher's trial
    params = callback.trial.params
    epochs = round(callback.trial.fidelity) if callback.trial.fidelity else max_epochs
    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(
        max_epochs=epochs,
        callbacks=[callback],
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(DigitsMLP(**params), *loaders(params["batch_size"]))
    # nothing to call after fit: the callback marked the trial COMPLETED, PRUNED or FAILED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=9, help="epochs (the launcher's fidelity)")
    parser.add_argument("--trials", type=int, default=10, help="standalone sweep: trials")
    parser.add_argument("--storage", default=None, help="standalone sweep: database URL")
    parser.add_argument("--name", default="example-lightning", help="standalone sweep: experiment")
    args = parser.parse_args()
    torch.set_num_threads(1)
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
        print(f"trial {rec.number} {rec.state.value} val_acc={rec.value('val_acc')} {rec.params}")
    best = exp.best
    if best is not None:
        print(f"best val_acc={best.value('val_acc'):.4f} with {best.params}")


if __name__ == "__main__":
    main()
