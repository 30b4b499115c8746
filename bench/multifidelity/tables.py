"""The learning-curve tables that record.py trains: data, models, grids, objectives.

Each table is a grid over a model family on a dataset that ships with
scikit-learn (no downloads). ``TABLES`` maps a table's name to its ``Table``;
``record.py`` trains every configuration of the grid for 30 epochs with torch on
one CPU thread and writes ``bench/data/<name>.{npz,json}``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EPOCHS = 30


@dataclass(frozen=True)
class Param:
    values: list[Any]
    log: bool = False

    @property
    def kind(self) -> str:
        v = self.values[0]
        if isinstance(v, str):
            return "cat"
        return "int" if isinstance(v, int) else "float"


@dataclass(frozen=True)
class Table:
    name: str
    dataset: str
    task: str  # "classify" | "regress"
    model: str
    params: dict[str, Param]
    objective: str  # "val_acc" (maximize) or "val_loss" (minimize)
    split: str
    note: str = ""
    batch_size: int | None = None  # when not a parameter
    heldout: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def goal(self) -> str:
        return "maximize" if self.objective == "val_acc" else "minimize"

    @property
    def path(self) -> str:
        return f"heldout/{self.name}" if self.heldout else self.name


# ---------------------------------------------------------------- data


def load_data(name: str, val_fraction: float, label_noise: float = 0.0) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_val, y_val), standardized on the train part.

    ``label_noise``: that fraction of the training labels replaced by a random
    other class (fixed seed); validation labels stay clean.
    """
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loader = getattr(datasets, f"load_{name}")
    x, y = loader(return_X_y=True)
    x = x.astype(np.float32)
    regress = name == "diabetes"
    strat = None if regress else y
    xt, xv, yt, yv = train_test_split(x, y, test_size=val_fraction, random_state=0, stratify=strat)
    if name == "digits":  # pixels 0..16: keep the image, scale it
        xt, xv = xt / 16.0, xv / 16.0
    else:
        mu, sd = xt.mean(0), xt.std(0) + 1e-8
        xt, xv = (xt - mu) / sd, (xv - mu) / sd
    if label_noise > 0:
        rng = np.random.default_rng(0)
        flip = rng.random(len(yt)) < label_noise
        k = int(y.max()) + 1
        yt = yt.copy()
        yt[flip] = (yt[flip] + rng.integers(1, k, size=int(flip.sum()))) % k
    if regress:
        ym, ys = yt.mean(), yt.std()
        yt, yv = ((yt - ym) / ys).astype(np.float32), ((yv - ym) / ys).astype(np.float32)
    return xt.astype(np.float32), yt, xv.astype(np.float32), yv


# ---------------------------------------------------------------- models


def build_model(table: Table, cfg: dict[str, Any], n_in: int, n_out: int) -> Any:
    import torch.nn as nn

    m = table.model
    if m in ("mlp", "reg-mlp", "sched-mlp"):
        width = int(cfg.get("width", 128))
        depth = int(cfg.get("depth", 2))
        p = float(cfg.get("dropout", 0.0))
        act = nn.Tanh if cfg.get("activation") == "tanh" else nn.ReLU
        layers: list[nn.Module] = []
        d = n_in
        for _ in range(depth):
            layers += [nn.Linear(d, width), act()]
            if p > 0:
                layers.append(nn.Dropout(p))
            d = width
        layers.append(nn.Linear(d, n_out))
        return nn.Sequential(*layers)
    if m == "logreg":
        return nn.Linear(n_in, n_out)
    if m == "resmlp":
        res_block = _res_block()
        width = int(cfg["width"])
        blocks = [res_block(width) for _ in range(int(cfg["blocks"]))]
        return nn.Sequential(nn.Linear(n_in, width), *blocks, nn.Linear(width, n_out))
    if m == "cnn":
        c, k, n_conv = int(cfg["channels"]), int(cfg.get("kernel", 3)), int(cfg["n_conv"])
        mods: list[nn.Module] = [nn.Unflatten(1, (1, 8, 8))]
        ci = 1
        for j in range(n_conv):
            co = c * (2**j)
            mods += [nn.Conv2d(ci, co, k, padding=k // 2), nn.ReLU()]
            ci = co
        mods += [nn.MaxPool2d(2), nn.Flatten(), nn.Linear(ci * 16, n_out)]
        return nn.Sequential(*mods)
    row_rnn, row_attention = _row_modules()
    if m == "rnn":
        return row_rnn(str(cfg["cell"]), int(cfg["hidden"]), int(cfg["layers"]), n_out)
    if m == "attn":
        return row_attention(int(cfg["d_model"]), int(cfg["layers"]), float(cfg["dropout"]), n_out)
    raise ValueError(f"model: unknown {m!r}")


@functools.cache
def _res_block() -> Any:
    """The residual block of ``resmlp`` (defined on first use: torch imports late)."""
    import torch
    import torch.nn as nn

    class ResBlock(nn.Module):
        """x + Linear(ReLU(BN(Linear(ReLU(BN(x)))))): a pre-activation residual block."""

        def __init__(self, width: int) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.BatchNorm1d(width),
                nn.ReLU(),
                nn.Linear(width, width),
                nn.BatchNorm1d(width),
                nn.ReLU(),
                nn.Linear(width, width),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.body(x)

    return ResBlock


def label_smoothing(cfg: dict[str, Any]) -> float:
    """The label smoothing of the training loss (0: plain cross-entropy); validation never smooths."""
    return float(cfg.get("label_smoothing", 0.0))


@functools.cache
def _row_modules() -> tuple[Any, Any]:
    """The sequence models over digit rows (defined on first use: torch imports late)."""
    import torch
    import torch.nn as nn

    class RowRNN(nn.Module):
        """Reads the 8 rows of a digit as a sequence of 8 pixels each."""

        def __init__(self, cell: str, hidden: int, layers: int, n_out: int) -> None:
            super().__init__()
            cls = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
            self.rnn = cls(8, hidden, num_layers=layers, batch_first=True)
            self.out = nn.Linear(hidden, n_out)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h, _ = self.rnn(x.view(-1, 8, 8))
            return self.out(h[:, -1])

    class RowAttention(nn.Module):
        """A tiny transformer encoder over the 8 rows (tokens) of a digit."""

        def __init__(self, d: int, layers: int, p: float, n_out: int) -> None:
            super().__init__()
            self.embed = nn.Linear(8, d)
            self.pos = nn.Parameter(torch.zeros(1, 8, d))
            layer = nn.TransformerEncoderLayer(
                d, nhead=2, dim_feedforward=2 * d, dropout=p, batch_first=True
            )
            self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.out = nn.Linear(d, n_out)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.enc(self.embed(x.view(-1, 8, 8)) + self.pos)
            return self.out(h.mean(1))

    return RowRNN, RowAttention


def make_optimizer(cfg: dict[str, Any], params: Any) -> Any:
    import torch

    lr = float(cfg["lr"])
    wd = float(cfg.get("weight_decay", 0.0))
    opt = str(cfg.get("optimizer", "adam"))
    if "momentum" in cfg:
        return torch.optim.SGD(params, lr=lr, momentum=float(cfg["momentum"]), weight_decay=wd)
    if opt == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if opt == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
    return torch.optim.Adam(params, lr=lr, weight_decay=wd)


def lr_factor(cfg: dict[str, Any], epoch: int) -> float:
    """The learning-rate multiplier during epoch ``epoch`` (0-based)."""
    warm = int(cfg.get("warmup", 0))
    if epoch < warm:
        return (epoch + 1) / (warm + 1)
    sched = str(cfg.get("schedule", "constant"))
    if sched == "cosine":
        span = max(1, EPOCHS - warm)
        return 0.5 * (1 + math.cos(math.pi * (epoch - warm) / span))
    if sched == "step":
        return 0.1 ** sum(epoch >= s for s in (EPOCHS // 2, (5 * EPOCHS) // 6))
    return 1.0


# ---------------------------------------------------------------- the tables

LR6 = Param([1e-4, 3.16228e-4, 1e-3, 3.16228e-3, 1e-2, 3.16228e-2], log=True)

TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "breast-mlp",
            "breast_cancer",
            "classify",
            "mlp",
            {
                "lr": LR6,
                "width": Param([8, 32, 128], log=True),
                "depth": Param([1, 2]),
                "weight_decay": Param([0.0, 1e-3, 1e-2]),
                "optimizer": Param(["sgd", "momentum", "adam"]),
            },
            "val_acc",
            "stratified 60/40 train/validation, random_state=0, StandardScaler fit on train",
            batch_size=32,
        ),
        Table(
            "diabetes-reg",
            "diabetes",
            "regress",
            "reg-mlp",
            {
                "lr": Param([1e-4, 3.16228e-4, 1e-3, 3.16228e-3, 1e-2, 3.16228e-2], log=True),
                "width": Param([16, 64, 256], log=True),
                "depth": Param([1, 2, 3]),
                "dropout": Param([0.0, 0.2, 0.5]),
                "optimizer": Param(["momentum", "adam"]),
            },
            "val_loss",
            "80/20 train/validation, random_state=0; x and y standardized on train",
            note="val_loss = validation MSE in units of the train target's variance",
            batch_size=32,
        ),
        Table(
            "wine-logreg",
            "wine",
            "classify",
            "logreg",
            {
                "lr": Param([round(1e-4 * 10 ** (k / 2), 8) for k in range(10)], log=True),
                "batch_size": Param([4, 16, 64], log=True),
                "weight_decay": Param([0.0, 1e-3, 1e-2, 1e-1]),
                "momentum": Param([0.0, 0.9]),
            },
            "val_loss",
            "stratified 60/40 train/validation, random_state=0, StandardScaler fit on train",
            note="multinomial logistic regression trained by SGD; val_loss = cross-entropy",
        ),
        Table(
            "digits-sched",
            "digits",
            "classify",
            "sched-mlp",
            {
                "lr": Param([3e-3, 1e-2, 3e-2, 1e-1, 3e-1], log=True),
                "warmup": Param([0, 3, 10]),
                "schedule": Param(["constant", "cosine", "step"]),
                "weight_decay": Param([0.0, 1e-3, 1e-2]),
                "momentum": Param([0.0, 0.9]),
            },
            "val_acc",
            "stratified 80/20 train/validation, random_state=0, pixels / 16",
            note="MLP 128x2 trained by SGD with a per-epoch learning-rate schedule "
            "(linear warm-up over `warmup` epochs, then constant / cosine / x0.1 steps at 15 and 25)",
            batch_size=128,
        ),
        Table(
            "digits-noisy",
            "digits",
            "classify",
            "sched-mlp",
            {
                "lr": Param([1e-3, 3e-3, 1e-2, 3e-2, 1e-1], log=True),
                "width": Param([32, 128, 512], log=True),
                "weight_decay": Param([0.0, 1e-3, 1e-2]),
                "dropout": Param([0.0, 0.5]),
                "warmup": Param([0, 5]),
                "optimizer": Param(["momentum", "adam"]),
            },
            "val_acc",
            "stratified 80/20 train/validation, random_state=0, pixels / 16; "
            "40% of the training labels replaced by a random other class, validation clean",
            note="MLP (2 hidden layers) on noisy training labels: fast learners memorize the "
            "noise late, so early and final rankings disagree",
            batch_size=128,
            extra={"label_noise": 0.4},
        ),
        Table(
            "digits-cnn",
            "digits",
            "classify",
            "cnn",
            {
                "lr": Param([3e-4, 1e-3, 3e-3, 1e-2, 3e-2], log=True),
                "channels": Param([4, 8, 16], log=True),
                "n_conv": Param([1, 2]),
                "batch_size": Param([64, 256], log=True),
                "weight_decay": Param([0.0, 1e-3]),
                "optimizer": Param(["momentum", "adam"]),
            },
            "val_acc",
            "stratified 80/20 train/validation, random_state=0, pixels / 16",
            note="conv 3x3 (channels, doubled in a second conv), max-pool 2, linear",
        ),
        Table(
            "digits-gru",
            "digits",
            "classify",
            "rnn",
            {
                "lr": Param([3e-4, 1e-3, 3e-3, 1e-2, 3e-2], log=True),
                "hidden": Param([16, 32, 64], log=True),
                "layers": Param([1, 2]),
                "cell": Param(["rnn", "gru", "lstm"]),
                "batch_size": Param([128, 512], log=True),
            },
            "val_acc",
            "stratified 80/20 train/validation, random_state=0, pixels / 16",
            note="recurrent net (Adam) reading the 8 rows of a digit as a sequence",
        ),
        Table(
            "digits-attn",
            "digits",
            "classify",
            "attn",
            {
                "lr": Param([3e-4, 1e-3, 3e-3, 1e-2, 3e-2], log=True),
                "d_model": Param([8, 16, 32], log=True),
                "layers": Param([1, 2]),
                "dropout": Param([0.0, 0.1, 0.3]),
                "warmup": Param([0, 5]),
            },
            "val_acc",
            "stratified 80/20 train/validation, random_state=0, pixels / 16",
            note="tiny transformer encoder (Adam, 2 heads) over the 8 rows; held out",
            batch_size=256,
            heldout=True,
        ),
        Table(
            "digits-resbn",
            "digits",
            "classify",
            "resmlp",
            {
                "lr": Param([1e-3, 3e-3, 1e-2, 3e-2, 1e-1], log=True),
                "width": Param([32, 128], log=True),
                "blocks": Param([1, 3]),
                "schedule": Param(["constant", "cosine", "step"]),
                "label_smoothing": Param([0.0, 0.2]),
                "optimizer": Param(["momentum", "adam"]),
            },
            "val_acc",
            "stratified 80/20 train/validation, random_state=0, pixels / 16",
            note="residual MLP with batch norm (linear in, `blocks` pre-activation blocks "
            "BN-ReLU-linear-BN-ReLU-linear + skip, linear out); per-epoch learning-rate schedule "
            "(constant / cosine / x0.1 steps at 15 and 25); training loss cross-entropy with "
            "label smoothing, val_loss without; held out",
            batch_size=128,
            heldout=True,
        ),
        Table(
            "wine-mlp",
            "wine",
            "classify",
            "mlp",
            {
                "lr": Param([3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1], log=True),
                "width": Param([16, 64, 256], log=True),
                "activation": Param(["relu", "tanh"]),
                "batch_size": Param([8, 32, 128], log=True),
                "optimizer": Param(["momentum", "adam"]),
            },
            "val_loss",
            "stratified 60/40 train/validation, random_state=0, StandardScaler fit on train",
            note="MLP classifier with one hidden layer (ReLU or tanh), SGD momentum 0.9 or Adam; "
            "val_loss = cross-entropy (a batch of 128 is the whole train part: one step an "
            "epoch); held out",
            heldout=True,
        ),
    ]
}

VAL_FRACTION = {"breast-mlp": 0.4, "wine-logreg": 0.4, "wine-mlp": 0.4}


def data_of(table: Table) -> tuple[np.ndarray, ...]:
    return load_data(table.dataset, val_fraction(table.name), table.extra.get("label_noise", 0.0))


def val_fraction(name: str) -> float:
    return VAL_FRACTION.get(name, 0.2)
