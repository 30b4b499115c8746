"""A tiny Lightning MLP on digits, shared by the in-process tests and the DDP script."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset


def load_digits_split(n_train: int = 640, n_val: int = 256) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, train_size=n_train, test_size=n_val, stratify=y, random_state=0
    )
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
    return (
        ((x_tr - mean) / std).astype(np.float32),
        y_tr.astype(np.int64),
        ((x_va - mean) / std).astype(np.float32),
        y_va.astype(np.int64),
    )


class DigitsModule(pl.LightningModule):
    """``fail_at`` raises in training at that epoch; ``nan_at`` poisons the weights;
    ``log_rank`` logs the global rank as a metric; ``val_rank_zero_only`` logs the
    validation metric on rank 0 alone."""

    def __init__(
        self,
        lr: float,
        *,
        fail_at: int | None = None,
        nan_at: int | None = None,
        log_rank: bool = False,
        val_name: str = "val_acc",
        val_rank_zero_only: bool = False,
    ) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
        )
        self.lr, self.fail_at, self.nan_at = lr, fail_at, nan_at
        self.log_rank, self.val_name = log_rank, val_name
        self.val_rank_zero_only = val_rank_zero_only

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], idx: int) -> torch.Tensor:
        if self.fail_at is not None and self.current_epoch + 1 == self.fail_at:
            raise RuntimeError(f"boom at epoch {self.fail_at}")
        if self.nan_at is not None and self.current_epoch + 1 == self.nan_at:
            with torch.no_grad():
                self.net[0].weight.fill_(float("nan"))
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)  # on_step: epoch means are ready only after validation
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], idx: int) -> None:
        x, y = batch
        acc = (self.net(x).argmax(1) == y).float().mean()
        if not self.val_rank_zero_only or self.global_rank == 0:  # a rank-0-only metric
            self.log(self.val_name, acc, rank_zero_only=self.val_rank_zero_only)
        if self.log_rank:
            self.log("rank", float(self.global_rank))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def loaders(data: tuple[np.ndarray, ...], batch_size: int = 64) -> tuple[DataLoader, DataLoader]:
    x_tr, y_tr, x_va, y_va = (torch.from_numpy(a) for a in data)
    return (
        DataLoader(TensorDataset(x_tr, y_tr), batch_size=batch_size, shuffle=True),
        DataLoader(TensorDataset(x_va, y_va), batch_size=256),
    )


def trainer(callback: pl.Callback, max_epochs: int, **kwargs: object) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=max_epochs,
        callbacks=[callback],
        accelerator="cpu",
        devices=kwargs.pop("devices", 1),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )
