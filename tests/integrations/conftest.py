from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import pytest

import tunehooks as th
from tunehooks.trial import Decision, TrialRecord

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


class StopAt:
    """A scripted scheduler: STOP once a trial reported ``step`` (never when None).

    ``calls`` records the step of every report it was asked about.
    """

    needs_history = True

    def __init__(self, step: int | None) -> None:
        self.step = step
        self.calls: list[int] = []

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        last = trial.reports[-1].step
        self.calls.append(last)
        if self.step is not None and last >= self.step:
            return Decision.STOP
        return Decision.CONTINUE

    def new_trial_fidelity(self, history: Sequence[TrialRecord]) -> float | None:
        return None


MakeExp = Callable[..., th.Experiment]


@pytest.fixture
def make_exp(storage_url: str) -> MakeExp:
    """An experiment over a learning rate with a scripted scheduler."""

    def make(
        name: str = "integration",
        *,
        stop_at: int | None = None,
        trials: int = 2,
        monitor: str = "val_acc",
        goal: str = "maximize",
        lr: tuple[float, float] = (0.01, 0.05),
    ) -> th.Experiment:
        return th.Experiment.create(
            name,
            th.SearchSpace({"lr": th.Float(*lr, log=True)}),
            metrics=[th.Metric(monitor, goal=goal)]
            + ([th.Metric("train_loss", strategy="store")] if monitor != "train_loss" else []),
            budget=th.Budget(trials=trials),
            storage=storage_url,
            method="random",
            seed=0,
            scheduler=StopAt(stop_at),
        )

    return make


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A standardized subsample of scikit-learn's digits: 640 train, 256 validation rows."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, train_size=640, test_size=256, stratify=y, random_state=0
    )
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
    return (
        ((x_tr - mean) / std).astype(np.float32),
        y_tr.astype(np.int64),
        ((x_va - mean) / std).astype(np.float32),
        y_va.astype(np.int64),
    )
