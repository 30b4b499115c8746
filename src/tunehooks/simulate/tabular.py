"""Tabular learning-curve benchmarks: every configuration of a grid, trained and recorded."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunehooks.metrics import Goal, Metric
from tunehooks.params import Categorical, Int, Param
from tunehooks.space import SearchSpace

__all__ = ["LearningCurves"]


@dataclass(frozen=True)
class LearningCurves:
    """Recorded curves of every configuration of a grid (a tabular benchmark).

    ``values`` maps each parameter to its grid values; ``configs[i]`` holds the
    index of configuration ``i``'s value for each parameter (in the order of
    ``values``); ``curves[i, e]`` is the metric after epoch ``e + 1``;
    ``epoch_time[i, e]`` the seconds epoch ``e + 1`` took. The search space
    exposes ordered (numeric) parameters as their grid index (``Int(0, n-1)``)
    and the others as categoricals, so a suggestion maps to exactly one row.

    Example:
        >>> import numpy as np
        >>> lc = LearningCurves({"a": [0.1, 1.0], "b": ["x", "y"]},
        ...     configs=np.array([[0, 0], [0, 1], [1, 0], [1, 1]]),
        ...     curves=np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.9]]))
        >>> lc.row({"a": 1, "b": "y"}), lc.final(3), lc.epochs
        (3, 0.9, 2)
    """

    values: Mapping[str, Sequence[Any]]
    configs: np.ndarray
    curves: np.ndarray
    epoch_time: np.ndarray | None = None
    metric: str = "val_acc"
    goal: Goal = Goal.MAXIMIZE

    def __post_init__(self) -> None:
        n, d = self.configs.shape
        if d != len(self.values):
            raise ValueError(f"configs: expected {len(self.values)} columns, got {d}")
        if self.curves.ndim != 2 or self.curves.shape[0] != n:
            raise ValueError(f"curves: expected shape ({n}, epochs), got {self.curves.shape}")
        if self.epoch_time is not None and self.epoch_time.shape != self.curves.shape:
            raise ValueError("epoch_time: needs the shape of curves")
        index = {tuple(int(v) for v in row): i for i, row in enumerate(self.configs)}
        object.__setattr__(self, "_index", index)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LearningCurves:
        """Load ``<path>.npz`` + ``<path>.json`` (the format of ``bench/data/digits-mlp``).

        The curves are the array the JSON's ``objective`` names
        (``{"name": "val_loss", "goal": "minimize"}``); a JSON without such an
        object (``digits-mlp``) is read as ``val_acc``, maximized.
        """
        base = str(path).removesuffix(".npz").removesuffix(".json")
        with open(base + ".json", encoding="utf-8") as f:
            meta = json.load(f)
        z = np.load(base + ".npz")
        names = list(meta["params"])
        values = {p: list(meta["params"][p]["values"]) for p in names}
        configs = np.stack([z[f"idx_{p}"].astype(int) for p in names], axis=1)
        total = z["train_time"].astype(float) if "train_time" in z.files else None
        epoch_time = None if total is None else np.diff(total, axis=1, prepend=0.0)
        metric, goal = _objective(meta.get("objective"), z.files, base)
        return cls(values, configs, z[metric].astype(float), epoch_time, metric, goal)

    @property
    def epochs(self) -> int:
        return int(self.curves.shape[1])

    def __len__(self) -> int:
        return int(self.configs.shape[0])

    def space(self) -> SearchSpace:
        """The search space whose configurations are exactly the rows of the table."""
        params: dict[str, Param] = {}
        for name, vals in self.values.items():
            params[name] = Int(0, len(vals) - 1) if _ordered(vals) else Categorical(list(vals))
        return SearchSpace(params)

    def objective(self) -> Metric:
        return Metric(self.metric, goal=self.goal)

    def row(self, params: Mapping[str, Any]) -> int:
        """The row of the configuration ``params`` (indices for ordered parameters)."""
        try:
            key = tuple(
                int(params[n]) if _ordered(vals) else list(vals).index(params[n])
                for n, vals in self.values.items()
            )
            return int(self._index[key])  # type: ignore[attr-defined]
        except (KeyError, ValueError):
            raise KeyError(f"configuration {dict(params)} is not in the table") from None

    def value(self, row: int, epoch: int) -> float:
        """The metric of ``row`` after ``epoch`` epochs (1-based)."""
        return float(self.curves[row, epoch - 1])

    def final(self, row: int) -> float:
        return self.value(row, self.epochs)

    def duration(self, row: int, epoch: int) -> float:
        """Seconds that epoch ``epoch`` (1-based) of ``row`` took (1.0 without timings)."""
        if self.epoch_time is None:
            return 1.0
        return max(1e-6, float(self.epoch_time[row, epoch - 1]))

    def best_final(self) -> float:
        f = self.curves[:, -1]
        return float(np.nanmax(f) if self.goal is Goal.MAXIMIZE else np.nanmin(f))


def _objective(spec: Any, arrays: Sequence[str], base: str) -> tuple[str, Goal]:
    """The metric array and goal a table's JSON ``objective`` names."""
    if not isinstance(spec, Mapping):  # digits-mlp: a description string
        return "val_acc", Goal.MAXIMIZE
    name = spec.get("name")
    if name not in arrays:
        raise ValueError(
            f"{base}.json: objective.name {name!r} is not an array of the table; "
            f"use one of {sorted(a for a in arrays if not a.startswith(('idx_', 'cfg_', 'seed1_')))}"
        )
    try:
        goal = Goal(str(spec.get("goal", "maximize")).lower())
    except ValueError:
        raise ValueError(
            f"{base}.json: objective.goal {spec.get('goal')!r}: use 'maximize' or 'minimize'"
        ) from None
    return str(name), goal


def _ordered(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
