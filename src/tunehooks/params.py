"""Parameter types of a search space and their encoding to the unit cube.

Every parameter maps to zero or more columns of ``[0, 1]``:

* ``Float``: one column, linear or in log space.
* ``Int``: one column. Linear ints and powers of two are encoded by index
  (``(k + 0.5) / n``, decoded with ``floor``) so that a uniform column gives
  every value the same probability; log ints are encoded in log space over
  ``[low - 0.5, high + 0.5]`` and rounded.
* ``Categorical``: one-hot, one column per choice (decoded with ``argmax``).
* ``Constant``: no column.

An inactive conditional parameter is absent from the configuration; its
columns are filled with the type's ``inactive_fill`` (:data:`INACTIVE_FILL`
for numeric ones, zeros for one-hot), and :meth:`SearchSpace.active_mask`
tells which columns are active.

Each type is its own codec: ``encode``/``decode`` one value, and the
vectorized ``round_columns`` (rows of its columns rounded to the encoding of
the values they decode to) and ``steps`` (its one-step discrete moves), which
the GP's :class:`~tunehooks.optimizers.gp.SpaceEncoder` uses without knowing
the types.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

import numpy as np

__all__ = [
    "INACTIVE_FILL",
    "PARAM_TYPES",
    "Categorical",
    "Constant",
    "Float",
    "Int",
    "LinearConstraint",
    "Param",
    "SpaceError",
]

INACTIVE_FILL = 0.5
Value: TypeAlias = Any
Condition: TypeAlias = Mapping[str, Sequence[Any]]


class SpaceError(ValueError):
    """An invalid search space or configuration; the message names the parameter."""


def _norm_condition(condition: Condition | None) -> dict[str, tuple[Any, ...]] | None:
    if condition is None:
        return None
    if not isinstance(condition, Mapping) or not condition:
        raise SpaceError(
            f"condition must be a mapping like {{'optimizer': ['sgd']}} (got {condition!r})"
        )
    out: dict[str, tuple[Any, ...]] = {}
    for parent, values in condition.items():
        if isinstance(values, str) or not isinstance(values, Iterable):
            values = [values]
        vals = tuple(values)
        if not vals:
            raise SpaceError(f"condition on {parent!r} lists no values")
        out[str(parent)] = vals
    return out


@dataclass(frozen=True)
class Param:
    """Base of all parameter types: how a value is encoded for the GP and decoded back.

    Example:
        >>> import tunehooks as th
        >>> p = th.Int(16, 256, power_of_two=True)
        >>> isinstance(p, Param), p.encode(64), p.decode(np.array(p.encode(64)))
        (True, [0.5], 64)
    """

    condition: dict[str, tuple[Any, ...]] | None = field(default=None, kw_only=True)

    one_hot: ClassVar[bool] = False
    """True for one-hot columns (never relaxed by the acquisition optimizer); False for
    numeric ones (moved continuously, then rounded)."""
    inactive_fill: ClassVar[float] = INACTIVE_FILL
    """The value of every column while the parameter is inactive."""

    @property
    def n_columns(self) -> int:
        return 1

    def encode(self, value: Value) -> list[float]:
        raise NotImplementedError

    def decode(self, cols: np.ndarray) -> Value:
        raise NotImplementedError

    def round_columns(self, U: np.ndarray) -> np.ndarray:
        """Rows ``U`` (shape ``(n, n_columns)``, in ``[0, 1]``) of this parameter's columns,
        each rounded to the encoding of the value it decodes to (``encode(decode(u))``,
        vectorized). The default: unchanged (a continuous parameter)."""
        return U

    def steps(self, cols: np.ndarray) -> list[np.ndarray]:
        """The columns of every value one discrete step away from the canonical ``cols``
        (the other choices; the next lower and higher integer). The default: none."""
        return []

    def cardinality(self) -> int | None:
        """How many values the parameter can take; ``None`` for a continuous one."""
        return None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Param:
        """The parameter ``to_dict`` wrote (without its ``type`` and ``name``)."""
        raise NotImplementedError

    def validate(self, name: str, value: Value) -> Value:
        raise NotImplementedError

    def grid(self, points: int) -> list[Value]:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def _base_dict(self, kind: str) -> dict[str, Any]:
        d: dict[str, Any] = {"type": kind}
        if self.condition is not None:
            d["condition"] = {k: list(v) for k, v in self.condition.items()}
        return d


def _check_number(value: Any, name: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise SpaceError(f"{name}: {what} must be a number (got {value!r})")
    v = float(value)
    if not math.isfinite(v):
        raise SpaceError(f"{name}: {what} must be finite (got {value!r})")
    return v


@dataclass(frozen=True)
class Float(Param):
    """A real-valued parameter in ``[low, high]``, optionally on a log scale.

    Example:
        >>> Float(1e-4, 0.3, log=True).validate("lr", 0.01)
        0.01
    """

    low: float
    high: float
    log: bool = False

    def __init__(
        self, low: float, high: float, *, log: bool = False, condition: Condition | None = None
    ) -> None:
        lo = _check_number(low, "Float", "low")
        hi = _check_number(high, "Float", "high")
        if not lo < hi:
            raise SpaceError(
                f"min must be < max (got min={low}, max={high}); use Constant for one value"
            )
        if log and lo <= 0:
            raise SpaceError(
                f"log scale needs min > 0 (got {low}); use a linear scale or a positive min"
            )
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)
        object.__setattr__(self, "log", bool(log))
        object.__setattr__(self, "condition", _norm_condition(condition))

    def _bounds(self) -> tuple[float, float]:
        return (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)

    def encode(self, value: Value) -> list[float]:
        a, b = self._bounds()
        v = math.log(value) if self.log else float(value)
        return [min(1.0, max(0.0, (v - a) / (b - a)))]

    def decode(self, cols: np.ndarray) -> float:
        a, b = self._bounds()
        u = min(1.0, max(0.0, float(cols[0])))
        v = a + u * (b - a)
        out = math.exp(v) if self.log else v
        return min(self.high, max(self.low, out))

    def validate(self, name: str, value: Value) -> float:
        v = _check_number(value, name, "value")
        if not self.low <= v <= self.high:
            raise SpaceError(f"{name}: {value!r} is outside [{self.low}, {self.high}]")
        return v

    def grid(self, points: int) -> list[Value]:
        return [self.decode(np.array([u])) for u in np.linspace(0.0, 1.0, points)]

    def to_dict(self) -> dict[str, Any]:
        return {**self._base_dict("float"), "low": self.low, "high": self.high, "log": self.log}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Float:
        return cls(data["low"], data["high"], log=data["log"], condition=data.get("condition"))


@dataclass(frozen=True)
class Int(Param):
    """An integer parameter in ``[low, high]``: linear with ``step``, log, or powers of two.

    Example:
        >>> Int(16, 256, power_of_two=True).values()
        [16, 32, 64, 128, 256]
    """

    low: int
    high: int
    log: bool = False
    step: int = 1
    power_of_two: bool = False

    def __init__(
        self,
        low: int,
        high: int,
        *,
        log: bool = False,
        step: int = 1,
        power_of_two: bool = False,
        condition: Condition | None = None,
    ) -> None:
        for what, v in (("min", low), ("max", high), ("step", step)):
            integral = isinstance(v, int | np.integer) or (isinstance(v, float) and v.is_integer())
            if isinstance(v, bool) or not integral:
                raise SpaceError(f"Int: {what} must be an integer (got {v!r})")
        lo, hi, st = int(low), int(high), int(step)
        if not lo < hi:
            raise SpaceError(
                f"min must be < max (got min={low}, max={high}); use Constant for one value"
            )
        if st < 1:
            raise SpaceError(f"step must be >= 1 (got {step})")
        if log and lo <= 0:
            raise SpaceError(f"log scale needs min > 0 (got {low})")
        if log and st != 1:
            raise SpaceError("log scale and step cannot be combined; drop step or log")
        if power_of_two:
            if lo <= 0 or lo & (lo - 1) or hi & (hi - 1):
                raise SpaceError(
                    f"power_of_two needs min and max to be powers of two (got {low}, {high})"
                )
            if st != 1:
                raise SpaceError("power_of_two and step cannot be combined; drop step")
        elif st > 1 and (hi - lo) % st:
            raise SpaceError(
                f"max - min must be a multiple of step (got min={lo}, max={hi}, step={st}); "
                f"use max={lo + (hi - lo) // st * st}"
            )
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)
        object.__setattr__(self, "log", bool(log))
        object.__setattr__(self, "step", st)
        object.__setattr__(self, "power_of_two", bool(power_of_two))
        object.__setattr__(self, "condition", _norm_condition(condition))

    @property
    def _indexed(self) -> bool:
        return not self.log or self.power_of_two

    def values(self) -> list[int]:
        """Every value the parameter can take, in order."""
        if self.power_of_two:
            return [1 << e for e in range(self.low.bit_length() - 1, self.high.bit_length())]
        return list(range(self.low, self.high + 1, self.step))

    def _n(self) -> int:
        if self.power_of_two:
            return self.high.bit_length() - self.low.bit_length() + 1
        return (self.high - self.low) // self.step + 1

    def _index(self, value: int) -> int:
        if self.power_of_two:
            return value.bit_length() - self.low.bit_length()
        return (value - self.low) // self.step

    def _log_bounds(self) -> tuple[float, float]:
        """The log-space interval a log int is encoded over: ``[low - 0.5, high + 0.5]``."""
        return math.log(self.low - 0.5 if self.low > 0.5 else self.low / 2), math.log(
            self.high + 0.5
        )

    def cardinality(self) -> int:
        return self._n()

    def round_columns(self, U: np.ndarray) -> np.ndarray:
        u = U[:, 0]
        if self._indexed:
            n = self._n()
            k = np.minimum(n - 1, np.floor(u * n))
            return np.asarray((k + 0.5) / n)[:, None]
        a, b = self._log_bounds()
        v = np.clip(np.round(np.exp(a + u * (b - a))), self.low, self.high)
        return ((np.log(v) - a) / (b - a))[:, None]

    def steps(self, cols: np.ndarray) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for direction in (-1.0, 1.0):
            if self._indexed:
                y = cols[0] + direction / self._n()
            else:
                a, b = self._log_bounds()
                v = round(math.exp(a + cols[0] * (b - a)))
                w = min(self.high, max(self.low, v + int(direction)))
                y = (math.log(w) - a) / (b - a)
            if 0.0 <= y <= 1.0:
                out.append(np.array([y]))
        return out

    def encode(self, value: Value) -> list[float]:
        v = int(value)
        if self._indexed:
            return [(self._index(v) + 0.5) / self._n()]
        a, b = self._log_bounds()
        return [(math.log(v) - a) / (b - a)]

    def decode(self, cols: np.ndarray) -> int:
        u = min(1.0, max(0.0, float(cols[0])))
        if self._indexed:
            n = self._n()
            k = min(n - 1, math.floor(u * n))
            return self.low << k if self.power_of_two else self.low + k * self.step
        a, b = self._log_bounds()
        return min(self.high, max(self.low, round(math.exp(a + u * (b - a)))))

    def validate(self, name: str, value: Value) -> int:
        if isinstance(value, bool) or not isinstance(value, int | np.integer | float):
            raise SpaceError(f"{name}: expected an integer (got {value!r})")
        if isinstance(value, float) and not value.is_integer():
            raise SpaceError(f"{name}: expected an integer (got {value!r})")
        v = int(value)
        if not self.low <= v <= self.high:
            raise SpaceError(f"{name}: {v} is outside [{self.low}, {self.high}]")
        if self.power_of_two and v & (v - 1):
            raise SpaceError(f"{name}: {v} is not a power of two")
        if not self.power_of_two and (v - self.low) % self.step:
            raise SpaceError(f"{name}: {v} is not on the grid min={self.low}, step={self.step}")
        return v

    def grid(self, points: int) -> list[Value]:
        vals = self.values()
        if len(vals) <= points:
            return vals
        idx = np.unique(np.round(np.linspace(0, len(vals) - 1, points)).astype(int))
        return [vals[i] for i in idx]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self._base_dict("int"),
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "step": self.step,
            "power_of_two": self.power_of_two,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Int:
        return cls(
            data["low"],
            data["high"],
            log=data["log"],
            step=data["step"],
            power_of_two=data["power_of_two"],
            condition=data.get("condition"),
        )


@dataclass(frozen=True)
class Categorical(Param):
    """An unordered choice among at least two values (str, int, float or bool).

    Example:
        >>> Categorical(["sgd", "adam"]).n_columns
        2
    """

    choices: tuple[Any, ...]

    one_hot: ClassVar[bool] = True
    inactive_fill: ClassVar[float] = 0.0

    def __init__(self, choices: Sequence[Any], *, condition: Condition | None = None) -> None:
        if isinstance(choices, str) or not isinstance(choices, Iterable):
            raise SpaceError(f"Categorical needs a list of choices (got {choices!r})")
        ch = tuple(choices)
        if len(ch) < 2:
            raise SpaceError(
                f"a categorical needs at least two values (got {list(ch)}); use Constant for one"
            )
        for c in ch:
            if not isinstance(c, str | int | float | bool) or c is None:
                raise SpaceError(f"choices must be str, int, float or bool (got {c!r})")
        if len({(type(c), c) for c in ch}) != len(ch):
            raise SpaceError(f"choices must be distinct (got {list(ch)})")
        object.__setattr__(self, "choices", ch)
        object.__setattr__(self, "condition", _norm_condition(condition))

    @property
    def n_columns(self) -> int:
        return len(self.choices)

    def index(self, value: Value) -> int:
        for i, c in enumerate(self.choices):
            if type(c) is type(value) and c == value:
                return i
        for i, c in enumerate(self.choices):
            if c == value and not isinstance(value, bool) and not isinstance(c, bool):
                return i
        raise KeyError(value)

    def encode(self, value: Value) -> list[float]:
        cols = [0.0] * len(self.choices)
        cols[self.index(value)] = 1.0
        return cols

    def decode(self, cols: np.ndarray) -> Value:
        return self.choices[int(np.argmax(cols))]

    def cardinality(self) -> int:
        return len(self.choices)

    def round_columns(self, U: np.ndarray) -> np.ndarray:
        out = np.zeros_like(U)
        out[np.arange(len(U)), np.argmax(U, axis=1)] = 1.0
        return out

    def steps(self, cols: np.ndarray) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for j in range(len(self.choices)):
            if cols[j] == 1.0:
                continue
            hot = np.zeros(len(self.choices))
            hot[j] = 1.0
            out.append(hot)
        return out

    def validate(self, name: str, value: Value) -> Value:
        try:
            return self.choices[self.index(value)]
        except KeyError:
            raise SpaceError(f"{name}: {value!r} is not one of {list(self.choices)}") from None

    def grid(self, points: int) -> list[Value]:
        return list(self.choices)

    def to_dict(self) -> dict[str, Any]:
        return {**self._base_dict("categorical"), "choices": list(self.choices)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Categorical:
        return cls(data["choices"], condition=data.get("condition"))


@dataclass(frozen=True)
class Constant(Param):
    """A fixed value, passed to every trial (e.g. a seed).

    Example:
        >>> Constant(0).n_columns
        0
    """

    value: Any

    def __init__(self, value: Any, *, condition: Condition | None = None) -> None:
        if not isinstance(value, str | int | float | bool) or value is None:
            raise SpaceError(f"a constant must be str, int, float or bool (got {value!r})")
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "condition", _norm_condition(condition))

    @property
    def n_columns(self) -> int:
        return 0

    def encode(self, value: Value) -> list[float]:
        return []

    def decode(self, cols: np.ndarray) -> Value:
        return self.value

    def cardinality(self) -> int:
        return 1

    def validate(self, name: str, value: Value) -> Value:
        if value != self.value:
            raise SpaceError(f"{name}: is the constant {self.value!r} (got {value!r})")
        return self.value

    def grid(self, points: int) -> list[Value]:
        return [self.value]

    def to_dict(self) -> dict[str, Any]:
        return {**self._base_dict("constant"), "value": self.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Constant:
        return cls(data["value"], condition=data.get("condition"))


@dataclass(frozen=True)
class LinearConstraint:
    """``lower <= sum(weight * param) <= upper`` over numeric, unconditional parameters.

    Example:
        >>> LinearConstraint({"a": 1.0, "b": 1.0}, upper=1.0).holds({"a": 0.3, "b": 0.5})
        True
    """

    terms: Mapping[str, float]
    lower: float | None = None
    upper: float | None = None

    def __init__(
        self, terms: Mapping[str, float], *, lower: float | None = None, upper: float | None = None
    ) -> None:
        if not terms:
            raise SpaceError("a linear constraint needs at least one term")
        if lower is None and upper is None:
            raise SpaceError("a linear constraint needs lower= or upper=")
        object.__setattr__(self, "terms", {str(k): float(v) for k, v in terms.items()})
        object.__setattr__(self, "lower", None if lower is None else float(lower))
        object.__setattr__(self, "upper", None if upper is None else float(upper))

    def value(self, config: Mapping[str, Any]) -> float:
        return sum(w * float(config[k]) for k, w in self.terms.items())

    def holds(self, config: Mapping[str, Any], tol: float = 1e-9) -> bool:
        v = self.value(config)
        if self.lower is not None and v < self.lower - tol:
            return False
        return not (self.upper is not None and v > self.upper + tol)

    def describe(self) -> str:
        lhs = " + ".join(f"{w:g}*{k}" for k, w in self.terms.items())
        parts = []
        if self.lower is not None:
            parts.append(f"{lhs} >= {self.lower:g}")
        if self.upper is not None:
            parts.append(f"{lhs} <= {self.upper:g}")
        return " and ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"terms": dict(self.terms), "lower": self.lower, "upper": self.upper}


PARAM_TYPES: dict[str, type[Param]] = {  # the ``type`` of ``to_dict`` -> the class
    "float": Float,
    "int": Int,
    "categorical": Categorical,
    "constant": Constant,
}
