"""The search space: typed parameters, conditions, linear constraints, encoding.

See :mod:`tunehooks.params` for the parameter types and the column layout (the
parameter classes are imported from there; their old names here are deprecated).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from tunehooks import params as _params

__all__ = ["SearchSpace"]

_MAX_REJECTIONS = 10_000


class SearchSpace:
    """Named, typed parameters with optional conditions and linear constraints.

    Example:
        >>> import numpy as np
        >>> from tunehooks.params import Categorical, Float
        >>> space = SearchSpace({
        ...     "lr": Float(1e-4, 0.3, log=True),
        ...     "optimizer": Categorical(["sgd", "adam"]),
        ...     "momentum": Float(0.0, 0.99, condition={"optimizer": ["sgd"]}),
        ... })
        >>> cfg = space.sample(1, rng=np.random.default_rng(0))[0]
        >>> space.decode(space.encode(cfg)) == cfg
        True
        >>> "momentum" in space.validate({"lr": 0.01, "optimizer": "adam"})
        False
    """

    def __init__(
        self,
        params: Mapping[str, _params.Param],
        *,
        constraints: Sequence[_params.LinearConstraint] = (),
    ) -> None:
        if not isinstance(params, Mapping) or not params:
            raise _params.SpaceError("a search space needs at least one parameter")
        for name, p in params.items():
            if not isinstance(name, str) or not name:
                raise _params.SpaceError(
                    f"parameter names must be non-empty strings (got {name!r})"
                )
            if not isinstance(p, _params.Param):
                raise _params.SpaceError(
                    f"{name}: expected Float, Int, Categorical or Constant (got {type(p).__name__})"
                )
        self.params: dict[str, _params.Param] = dict(params)
        self._order = self._check_conditions()
        self.constraints: tuple[_params.LinearConstraint, ...] = tuple(constraints)
        self._check_constraints()
        self._slices: dict[str, slice] = {}
        col = 0
        for name, p in self.params.items():
            self._slices[name] = slice(col, col + p.n_columns)
            col += p.n_columns
        self.dim = col

    # -- structure --------------------------------------------------------------------
    def _check_conditions(self) -> list[str]:
        for name, p in self.params.items():
            for parent, values in (p.condition or {}).items():
                if parent == name:
                    raise _params.SpaceError(f"{name}: a parameter cannot be conditioned on itself")
                if parent not in self.params:
                    raise _params.SpaceError(
                        f"{name}: condition names unknown parameter {parent!r}; "
                        f"known: {sorted(self.params)}"
                    )
                pp = self.params[parent]
                if not isinstance(pp, _params.Categorical):
                    raise _params.SpaceError(
                        f"{name}: condition parameter {parent!r} must be categorical "
                        f"(it is {type(pp).__name__})"
                    )
                for v in values:
                    try:
                        pp.index(v)
                    except KeyError:
                        raise _params.SpaceError(
                            f"{name}: condition value {v!r} is not a choice of {parent!r} "
                            f"({list(pp.choices)})"
                        ) from None
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(n: str, path: tuple[str, ...]) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                raise _params.SpaceError(f"conditions form a cycle: {' -> '.join((*path, n))}")
            state[n] = 1
            for parent in self.params[n].condition or {}:
                visit(parent, (*path, n))
            state[n] = 2
            order.append(n)

        for n in self.params:
            visit(n, ())
        return order

    def _check_constraints(self) -> None:
        for c in self.constraints:
            if not isinstance(c, _params.LinearConstraint):
                raise _params.SpaceError(
                    f"constraints: expected LinearConstraint (got {type(c).__name__})"
                )
            lo_sum = hi_sum = 0.0
            for k, w in c.terms.items():
                p = self.params.get(k)
                if p is None:
                    raise _params.SpaceError(f"constraint {c.describe()}: unknown parameter {k!r}")
                if not isinstance(p, _params.Float | _params.Int):
                    raise _params.SpaceError(f"constraint {c.describe()}: {k!r} is not numeric")
                if p.condition is not None:
                    raise _params.SpaceError(
                        f"constraint {c.describe()}: {k!r} is conditional; constraints "
                        "apply to unconditional parameters only"
                    )
                lo_sum += min(w * p.low, w * p.high)
                hi_sum += max(w * p.low, w * p.high)
            if (c.upper is not None and lo_sum > c.upper) or (
                c.lower is not None and hi_sum < c.lower
            ):
                raise _params.SpaceError(
                    f"constraint {c.describe()} is infeasible: within the parameter bounds the "
                    f"sum ranges over [{lo_sum:g}, {hi_sum:g}]; widen the bounds or the threshold"
                )

    @property
    def names(self) -> list[str]:
        return list(self.params)

    def columns(self, name: str) -> slice:
        """The columns of ``name`` in the encoded vector."""
        return self._slices[name]

    def is_active(self, name: str, config: Mapping[str, Any]) -> bool:
        """Whether ``name`` is active given the (partial) values in ``config``."""
        cond = self.params[name].condition
        if not cond:
            return True
        for parent, values in cond.items():
            if parent not in config or not self.is_active(parent, config):
                return False
            if not any(_same(config[parent], v) for v in values):
                return False
        return True

    @property
    def is_conditional(self) -> bool:
        return any(p.condition for p in self.params.values())

    @property
    def parents_first(self) -> list[str]:
        """The parameter names in an order that puts every condition's parent before
        the parameters it switches on."""
        return list(self._order)

    def condition_indices(self, name: str) -> list[tuple[str, tuple[int, ...]]]:
        """``name``'s condition as (parent, indices of the parent's choices that switch it
        on), one pair per parent; empty for an unconditional parameter."""
        out = []
        for parent, values in (self.params[name].condition or {}).items():
            pp = self.params[parent]
            if not isinstance(pp, _params.Categorical):  # pragma: no cover - __init__ checks
                raise _params.SpaceError(
                    f"{name}: condition parameter {parent!r} must be categorical"
                )
            out.append((parent, tuple(pp.index(v) for v in values)))
        return out

    # -- encoding ---------------------------------------------------------------------
    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """Encode a configuration to a vector in ``[0, 1]^dim``."""
        x = np.zeros(self.dim)
        for name, p in self.params.items():
            s = self._slices[name]
            x[s] = p.encode(config[name]) if name in config else p.inactive_fill
        return x

    def encode_many(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.stack([self.encode(c) for c in configs]) if configs else np.zeros((0, self.dim))

    def decode(self, x: np.ndarray) -> dict[str, Any]:
        """Decode a vector of ``[0, 1]^dim`` to a valid configuration (inactive ones dropped)."""
        x = np.asarray(x, dtype=float)
        if x.shape != (self.dim,):
            raise ValueError(f"expected a vector of length {self.dim}, got shape {x.shape}")
        values = {name: self.params[name].decode(x[self._slices[name]]) for name in self._order}
        return {n: values[n] for n in self.params if self.is_active(n, values)}

    def decode_many(self, X: np.ndarray) -> list[dict[str, Any]]:
        return [self.decode(row) for row in np.asarray(X)]

    def active_mask(self, config: Mapping[str, Any]) -> np.ndarray:
        """Boolean vector: which encoded columns belong to active parameters."""
        mask = np.ones(self.dim, dtype=bool)
        for name in self.params:
            if name not in config:
                mask[self._slices[name]] = False
        return mask

    def canonicalize(self, x: np.ndarray) -> np.ndarray:
        """Round a vector to the encoding of the configuration it decodes to."""
        return self.encode(self.decode(x))

    # -- validation and feasibility -----------------------------------------------------
    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Check a user-given configuration; return it normalized (constants filled in)."""
        unknown = sorted(set(config) - set(self.params))
        if unknown:
            raise _params.SpaceError(f"unknown parameters {unknown}; the space has {self.names}")
        out: dict[str, Any] = {}
        for name in self._order:
            p = self.params[name]
            if not self.is_active(name, out):
                if name in config and not isinstance(p, _params.Constant):
                    raise _params.SpaceError(
                        f"{name}: is inactive for this configuration (condition "
                        f"{p.condition}); remove it"
                    )
                continue
            if name not in config:
                if isinstance(p, _params.Constant):
                    out[name] = p.value
                    continue
                raise _params.SpaceError(f"{name}: missing; give a value")
            out[name] = p.validate(name, config[name])
        for c in self.constraints:
            if not c.holds(out):
                raise _params.SpaceError(f"configuration violates constraint {c.describe()}")
        return {n: out[n] for n in self.params if n in out}

    def is_feasible(self, config: Mapping[str, Any]) -> bool:
        return all(c.holds(config) for c in self.constraints)

    # -- sampling ---------------------------------------------------------------------
    def sample(self, n: int, *, rng: np.random.Generator) -> list[dict[str, Any]]:
        """``n`` configurations drawn uniformly (in the encoded space), constraints respected."""
        out: list[dict[str, Any]] = []
        tries = 0
        while len(out) < n:
            cfg = self.decode(rng.random(self.dim))
            tries += 1
            if self.is_feasible(cfg):
                out.append(cfg)
            elif tries > _MAX_REJECTIONS + n:
                raise _params.SpaceError(
                    f"could not sample a configuration satisfying the constraints in {tries} "
                    "tries; the constraints leave (almost) no room: relax them"
                )
        return out

    def from_unit(self, U: np.ndarray) -> list[dict[str, Any]]:
        """Decode rows of ``U`` and keep those that satisfy the constraints."""
        return [c for c in self.decode_many(U) if self.is_feasible(c)]

    def grid(self, *, points: int = 5) -> Iterator[dict[str, Any]]:
        """Every grid configuration (``points`` per float), respecting conditions."""

        def expand(i: int, partial: dict[str, Any]) -> Iterator[dict[str, Any]]:
            if i == len(self._order):
                cfg = {n: partial[n] for n in self.params if n in partial}
                if self.is_feasible(cfg):
                    yield cfg
                return
            name = self._order[i]
            if not self.is_active(name, partial):
                yield from expand(i + 1, partial)
                return
            for v in self.params[name].grid(points):
                yield from expand(i + 1, {**partial, name: v})

        yield from expand(0, {})

    def grid_size(self, *, points: int = 5) -> int:
        if not self.is_conditional and not self.constraints:
            return int(np.prod([len(p.grid(points)) for p in self.params.values()]))
        return sum(1 for _ in self.grid(points=points))

    # -- serialization ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            # a list, not a mapping: the order defines the encoding's columns and
            # must survive JSON writers that sort keys
            "params": [{"name": n, **p.to_dict()} for n, p in self.params.items()],
            "constraints": [c.to_dict() for c in self.constraints],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchSpace:
        params: dict[str, _params.Param] = {}
        for d in data["params"]:
            d = dict(d)
            name = d.pop("name")
            kind = d.pop("type")
            if kind not in _params.PARAM_TYPES:
                raise _params.SpaceError(f"{name}: unknown type {kind!r}")
            params[name] = _params.PARAM_TYPES[kind].from_dict(d)
        cons = [
            _params.LinearConstraint(c["terms"], lower=c["lower"], upper=c["upper"])
            for c in data.get("constraints", [])
        ]
        return cls(params, constraints=cons)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SearchSpace:
        return cls.from_dict(json.loads(text))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        return f"SearchSpace({list(self.params)}, dim={self.dim})"


def _same(a: Any, b: Any) -> bool:
    return (type(a) is type(b) and a == b) or (
        not isinstance(a, bool) and not isinstance(b, bool) and a == b
    )


_MOVED = frozenset(_params.__all__)


def __getattr__(name: str) -> Any:
    """The parameter classes' old import path (``tunehooks.space.Float``): deprecated."""
    if name in _MOVED:
        warnings.warn(
            f"tunehooks.space.{name} is deprecated; import it from tunehooks.params "
            f"(or tunehooks.{name})",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(_params, name)
    raise AttributeError(f"module 'tunehooks.space' has no attribute {name!r}")
