"""Search space -> GP features: the space's unit encoding, rounded and made explicit.

The features of a configuration are the columns of :meth:`SearchSpace.encode`:

* ``Float``: one column in ``[0, 1]``, in log space for log-scaled parameters.
* ``Int``: one column; linear ints and powers of two by index (so ``16, 32, 64``
  are evenly spaced), log ints in log space. :meth:`SpaceEncoder.canonicalize`
  rounds a column to the encoding of the integer it decodes to, so the model
  only ever sees values the space allows.
* ``Categorical``: one-hot, one column per choice. The acquisition optimizer
  never relaxes these columns: it moves between choices by discrete steps.
* Inactive conditional parameters: their columns hold the type's
  ``inactive_fill`` (:data:`~tunehooks.params.INACTIVE_FILL` for numeric
  columns, zeros for one-hot ones). Two
  configurations that differ only in a parameter their parent switched off have
  the same features; the parent's one-hot columns tell active from inactive.

The rounding and the discrete moves are each parameter type's own
(:meth:`~tunehooks.params.Param.round_columns`, :meth:`~tunehooks.params.Param.steps`):
the encoder only lays them out over the columns, so a new parameter type needs no
change here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tunehooks.space import SearchSpace

__all__ = ["SpaceEncoder"]


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
        self._params = {n: p for n, p in space.params.items() if p.n_columns}
        self._slices = {n: space.columns(n) for n in self._params}
        self._one_hot = [n for n, p in self._params.items() if p.one_hot]
        self._numeric = [n for n, p in self._params.items() if not p.one_hot]
        # conditions resolved to index tests: param -> [(parent, allowed choice indices)]
        self._conditions = {
            n: space.condition_indices(n) for n in space.params if space.params[n].condition
        }
        self._order = space.parents_first

    # -- structure ----------------------------------------------------------------------
    def _columns_of(self, names: Sequence[str]) -> list[int]:
        return sorted(i for n in names for i in range(self._slices[n].start, self._slices[n].stop))

    @property
    def numeric_columns(self) -> list[int]:
        """Columns of floats and ints (optimized continuously, ints then rounded)."""
        return self._columns_of(self._numeric)

    @property
    def categorical_columns(self) -> list[int]:
        """One-hot columns of categoricals (never relaxed)."""
        return self._columns_of(self._one_hot)

    @property
    def categorical_groups(self) -> list[tuple[int, ...]]:
        """The one-hot columns of each categorical parameter."""
        return [tuple(range(self._slices[n].start, self._slices[n].stop)) for n in self._one_hot]

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
                idx = np.argmax(X[:, self._slices[parent]], axis=1)
                act &= out[parent] & np.isin(idx, allowed)
            out[name] = act
        return out

    def canonicalize(self, X: np.ndarray) -> np.ndarray:
        """Round rows of ``X`` to the features of the configurations they decode to.

        Vectorized equivalent of ``space.canonicalize`` row by row: each
        parameter's columns rounded by its type, inactive parameters filled.
        """
        X = np.clip(np.array(np.atleast_2d(X), dtype=float), 0.0, 1.0)
        for name, p in self._params.items():
            s = self._slices[name]
            X[:, s] = p.round_columns(X[:, s])
        for name, act in self.active(X).items():
            if act.all() or name not in self._params:
                continue
            X[np.flatnonzero(~act), self._slices[name]] = self._params[name].inactive_fill
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
        for name in self._numeric:
            mask[:, self._slices[name]] = act[name][:, None]
        return mask

    def neighbors(self, x: np.ndarray) -> np.ndarray:
        """Canonical one-step discrete moves from ``x``: every other choice of each active
        categorical, then the next lower/higher value of each active int."""
        x = np.asarray(x, dtype=float)
        act = self.active(x[None, :])
        out: list[np.ndarray] = []
        for name in (*self._one_hot, *self._numeric):
            if not act[name][0]:
                continue
            s = self._slices[name]
            for cols in self._params[name].steps(x[s]):
                y = x.copy()
                y[s] = cols
                out.append(y)
        if not out:
            return np.zeros((0, self.dim))
        return self.canonicalize(np.stack(out))
