"""Search space -> GP features: the space's unit encoding, rounded and made explicit.

The features of a configuration are the columns of :meth:`SearchSpace.encode`:

* ``Float``: one column in ``[0, 1]``, in log space for log-scaled parameters.
* ``Int``: one column; linear ints and powers of two by index (so ``16, 32, 64``
  are evenly spaced), log ints in log space. :meth:`SpaceEncoder.canonicalize`
  rounds a column to the encoding of the integer it decodes to, so the model
  only ever sees values the space allows.
* ``Categorical``: one-hot, one column per choice. The acquisition optimizer
  never relaxes these columns: it moves between choices by discrete steps.
* Inactive conditional parameters: numeric columns hold the fixed value
  :data:`~tunehooks.params.INACTIVE_FILL`, one-hot columns are all zero. Two
  configurations that differ only in a parameter their parent switched off have
  the same features; the parent's one-hot columns tell active from inactive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunehooks.params import INACTIVE_FILL, Categorical, Constant, Float, Int
from tunehooks.space import SearchSpace

__all__ = ["SpaceEncoder"]


@dataclass(frozen=True)
class _Column:
    name: str
    index: int
    kind: str  # "float" | "int_index" | "int_log"
    n: int = 0  # number of values of an indexed int
    log_low: float = 0.0
    log_high: float = 0.0
    low: int = 0
    high: int = 0


@dataclass(frozen=True)
class _Group:
    name: str
    columns: tuple[int, ...]


class SpaceEncoder:
    """Encodes configurations of a :class:`SearchSpace` to GP features and back.

    Example:
        >>> import numpy as np
        >>> import tunehooks as th
        >>> space = th.SearchSpace({
        ...     "lr": th.Float(1e-4, 1e-1, log=True),
        ...     "batch": th.Int(16, 256, power_of_two=True),
        ...     "opt": th.Categorical(["sgd", "adam"]),
        ...     "momentum": th.Float(0.0, 0.9, condition={"opt": ["sgd"]}),
        ... })
        >>> enc = SpaceEncoder(space)
        >>> enc.dim, enc.numeric_columns, enc.categorical_columns
        (5, [0, 1, 4], [2, 3])
        >>> x = enc.canonicalize(np.array([[0.5, 0.33, 0.2, 0.7, 0.9]]))
        >>> enc.decode(x)[0]["opt"], "momentum" in enc.decode(x)[0]
        ('adam', False)
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.dim = space.dim
        self._columns: list[_Column] = []
        self._groups: dict[str, _Group] = {}
        self._param_cols: dict[str, list[int]] = {}
        for name, p in space.params.items():
            s = space.columns(name)
            cols = list(range(s.start, s.stop))
            self._param_cols[name] = cols
            if isinstance(p, Float):
                self._columns.append(_Column(name, s.start, "float"))
            elif isinstance(p, Int):
                if not p.log or p.power_of_two:
                    self._columns.append(_Column(name, s.start, "int_index", n=len(p.values())))
                else:
                    a = math.log(p.low - 0.5 if p.low > 0.5 else p.low / 2)
                    b = math.log(p.high + 0.5)
                    self._columns.append(
                        _Column(
                            name, s.start, "int_log", log_low=a, log_high=b, low=p.low, high=p.high
                        )
                    )
            elif isinstance(p, Categorical):
                self._groups[name] = _Group(name, tuple(cols))
            elif not isinstance(p, Constant):  # pragma: no cover - every Param type is handled
                raise TypeError(f"{name}: unsupported parameter type {type(p).__name__}")
        # conditions resolved to index tests: param -> [(parent, allowed choice indices)]
        self._conditions: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
        for name, p in space.params.items():
            if not p.condition:
                continue
            tests = []
            for parent, values in p.condition.items():
                pp = space.params[parent]
                if not isinstance(pp, Categorical):  # pragma: no cover - SearchSpace checks
                    raise TypeError(f"{name}: condition parent {parent!r} is not categorical")
                tests.append((parent, tuple(pp.index(v) for v in values)))
            self._conditions[name] = tests
        self._order = [n for n in space._order if n in space.params]

    # -- structure ----------------------------------------------------------------------
    @property
    def numeric_columns(self) -> list[int]:
        """Columns of floats and ints (optimized continuously, ints then rounded)."""
        return sorted(c.index for c in self._columns)

    @property
    def categorical_columns(self) -> list[int]:
        """One-hot columns of categoricals (never relaxed)."""
        return sorted(i for g in self._groups.values() for i in g.columns)

    @property
    def categorical_groups(self) -> list[tuple[int, ...]]:
        """The one-hot columns of each categorical parameter."""
        return [g.columns for g in self._groups.values()]

    @property
    def integer_columns(self) -> list[int]:
        return sorted(c.index for c in self._columns if c.kind != "float")

    @property
    def has_constraints(self) -> bool:
        return bool(self.space.constraints)

    # -- encode / decode ----------------------------------------------------------------
    def encode(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Features of ``configs``: an array of shape ``(len(configs), dim)``."""
        return self.space.encode_many(list(configs)).reshape(len(configs), self.dim)

    def decode(self, X: np.ndarray) -> list[dict[str, Any]]:
        """Configurations of the rows of ``X`` (inactive parameters dropped)."""
        return self.space.decode_many(np.atleast_2d(X))

    def active(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Per parameter, which rows of (canonical) ``X`` have it active."""
        X = np.atleast_2d(X)
        out: dict[str, np.ndarray] = {}
        for name in self._order:
            act = np.ones(len(X), dtype=bool)
            for parent, allowed in self._conditions.get(name, []):
                idx = np.argmax(X[:, list(self._groups[parent].columns)], axis=1)
                act &= out[parent] & np.isin(idx, allowed)
            out[name] = act
        return out

    def canonicalize(self, X: np.ndarray) -> np.ndarray:
        """Round rows of ``X`` to the features of the configurations they decode to.

        Vectorized equivalent of ``space.canonicalize`` row by row: ints rounded,
        one-hot columns set to the argmax, inactive parameters filled.
        """
        X = np.clip(np.array(np.atleast_2d(X), dtype=float), 0.0, 1.0)
        for c in self._columns:
            u = X[:, c.index]
            if c.kind == "int_index":
                k = np.minimum(c.n - 1, np.floor(u * c.n))
                X[:, c.index] = (k + 0.5) / c.n
            elif c.kind == "int_log":
                v = np.clip(
                    np.round(np.exp(c.log_low + u * (c.log_high - c.log_low))), c.low, c.high
                )
                X[:, c.index] = (np.log(v) - c.log_low) / (c.log_high - c.log_low)
        for g in self._groups.values():
            cols = list(g.columns)
            hot = np.argmax(X[:, cols], axis=1)
            X[:, cols] = 0.0
            X[np.arange(len(X)), np.asarray(cols)[hot]] = 1.0
        for name, act in self.active(X).items():
            if act.all():
                continue
            cols = self._param_cols[name]
            fill = 0.0 if name in self._groups else INACTIVE_FILL
            X[np.ix_(np.flatnonzero(~act), np.asarray(cols, dtype=int))] = fill
        return X

    def feasible(self, X: np.ndarray) -> np.ndarray:
        """Which rows of canonical ``X`` satisfy the space's linear constraints."""
        X = np.atleast_2d(X)
        if not self.space.constraints:
            return np.ones(len(X), dtype=bool)
        return np.array([self.space.is_feasible(c) for c in self.decode(X)], dtype=bool)

    def free_mask(self, X: np.ndarray) -> np.ndarray:
        """Which columns of each canonical row may move continuously (active numeric ones)."""
        X = np.atleast_2d(X)
        mask = np.zeros(X.shape, dtype=bool)
        act = self.active(X)
        for c in self._columns:
            mask[:, c.index] = act[c.name]
        return mask

    def neighbors(self, x: np.ndarray) -> np.ndarray:
        """Canonical one-step discrete moves from ``x``: every other choice of each active
        categorical, and the next lower/higher value of each active int."""
        x = np.asarray(x, dtype=float)
        act = self.active(x[None, :])
        out: list[np.ndarray] = []
        for name, g in self._groups.items():
            if not act[name][0]:
                continue
            for col in g.columns:
                if x[col] == 1.0:
                    continue
                y = x.copy()
                y[list(g.columns)] = 0.0
                y[col] = 1.0
                out.append(y)
        for c in self._columns:
            if c.kind == "float" or not act[c.name][0]:
                continue
            for direction in (-1.0, 1.0):
                y = x.copy()
                if c.kind == "int_index":
                    y[c.index] = x[c.index] + direction / c.n
                else:
                    v = round(math.exp(c.log_low + x[c.index] * (c.log_high - c.log_low)))
                    w = min(c.high, max(c.low, v + int(direction)))
                    y[c.index] = (math.log(w) - c.log_low) / (c.log_high - c.log_low)
                if 0.0 <= y[c.index] <= 1.0:
                    out.append(y)
        if not out:
            return np.zeros((0, self.dim))
        return self.canonicalize(np.stack(out))
