from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence

import numpy as np
import pytest

import tunehooks as th
from tunehooks.trial import Decision, TrialRecord


def _has_mxnet() -> bool:
    """Whether the real MXNet is importable: under the main venv ``tests/`` is on sys.path,
    so ``import mxnet`` would find this folder as a namespace package."""
    spec = importlib.util.find_spec("mxnet")
    return spec is not None and spec.origin is not None


# the MXNet tests run in .venv-mxnet (scripts/test.sh); elsewhere they are not collected
collect_ignore_glob = [] if _has_mxnet() else ["test_*.py"]


class StopAt:
    """A scripted scheduler: STOP once a trial reported ``step`` (never when None)."""

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


@pytest.fixture
def make_exp(storage_url: str) -> Callable[..., th.Experiment]:
    def make(*, stop_at: int | None = None, trials: int = 2) -> th.Experiment:
        return th.Experiment.create(
            "mxnet",
            th.SearchSpace({"lr": th.Float(0.005, 0.02, log=True)}),
            metrics=[
                th.Metric("val_accuracy", goal="maximize"),
                th.Metric("val_cross-entropy", strategy="store"),
            ],
            budget=th.Budget(trials=trials),
            storage=storage_url,
            method="random",
            seed=0,
            scheduler=StopAt(stop_at),
        )

    return make


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, train_size=640, test_size=256, stratify=y, random_state=0
    )
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
    return (
        ((x_tr - mean) / std).astype(np.float32),
        y_tr.astype(np.float32),
        ((x_va - mean) / std).astype(np.float32),
        y_va.astype(np.float32),
    )
