"""Parameter entries of a sweep file, in the W&B and SigOpt dialects, to typed parameters.

W&B: ``lr: {distribution: log_uniform_values, min: 1e-4, max: 0.3}``,
``batch_size: {values: [16, 32, 64]}``, ``seed: {value: 0}``.
SigOpt: ``width: {type: int, bounds: {min: 16, max: 512}, transformation: log}``,
``optimizer: {type: categorical, categorical_values: [sgd, adam]}``, also as a
list of entries that carry their ``name``.
"""

from __future__ import annotations

import math
from typing import Any

from tunehooks.launch._schema import ParameterSpec, SweepError, SweepSpec
from tunehooks.params import Categorical, Constant, Float, Int, LinearConstraint, Param, SpaceError
from tunehooks.space import SearchSpace

__all__ = ["build_space", "to_param"]


_TYPES = {
    "float": "float",
    "double": "float",
    "int": "int",
    "integer": "int",
    "categorical": "categorical",
    "constant": "constant",
}
_DISTRIBUTIONS = {
    "constant": "constant",
    "categorical": "categorical",
    "int_uniform": "int",
    "uniform": "float",
    "log_uniform_values": "float",
    "log_uniform": "float",
    "q_uniform": "int",
    "q_log_uniform_values": "int",
}
_LOG_DISTRIBUTIONS = ("log_uniform_values", "log_uniform", "q_log_uniform_values")


def _is_integral(v: Any) -> bool:
    return not isinstance(v, bool) and (
        isinstance(v, int) or (isinstance(v, float) and v.is_integer())
    )


def _kind(path: str, spec: ParameterSpec) -> str:
    if spec.grid is not None and spec.type is not None and spec.type.lower() != "categorical":
        if spec.bounds is not None or spec.min is not None or spec.max is not None:
            raise SweepError(f"{path}: give `grid` (the values) or `bounds`, not both")
        return "categorical"  # SigOpt: a numeric parameter that takes only these values
    if spec.type is not None:
        kind = _TYPES.get(spec.type.lower())
        if kind is None:
            raise SweepError(
                f"{path}.type: unknown type {spec.type!r}; use one of {sorted(_TYPES)}"
            )
        return kind
    if spec.distribution is not None:
        kind = _DISTRIBUTIONS.get(spec.distribution)
        if kind is None:
            raise SweepError(
                f"{path}.distribution: {spec.distribution!r} is not supported; use one of "
                f"{sorted(_DISTRIBUTIONS)} (normal and beta priors are not modelled)"
            )
        if kind == "int" and spec.distribution == "q_uniform" and not _is_integral(spec.q or 1):
            raise SweepError(f"{path}.q: q_uniform needs an integer q (got {spec.q!r})")
        return kind
    if "value" in spec.model_fields_set:
        return "constant"
    if spec.values is not None or spec.categorical_values is not None or spec.grid is not None:
        numeric = [k for k in ("min", "max", "bounds") if getattr(spec, k) is not None]
        if numeric:
            raise SweepError(
                f"{path}: give `values` (a categorical) or `{numeric[0]}` (a range), not both"
            )
        return "categorical"
    lo, hi = _bounds(path, spec, required=False)
    if lo is None or hi is None:
        raise SweepError(
            f"{path}: give `values: [...]`, `value: x`, or `min` and `max` "
            "(W&B), or `type` with `bounds` (SigOpt)"
        )
    return "int" if isinstance(lo, int) and isinstance(hi, int) else "float"


def _bounds(
    path: str, spec: ParameterSpec, *, required: bool = True
) -> tuple[int | float | None, int | float | None]:
    if spec.bounds is not None:
        if spec.min is not None or spec.max is not None:
            raise SweepError(f"{path}: give either `bounds` or `min`/`max`, not both")
        return spec.bounds.min, spec.bounds.max
    if required and (spec.min is None or spec.max is None):
        missing = "min" if spec.min is None else "max"
        raise SweepError(
            f"{path}.{missing}: required for a numeric parameter; add `{missing}: ...`"
        )
    return spec.min, spec.max


def _choices(path: str, spec: ParameterSpec) -> list[Any]:
    given = [
        (k, v)
        for k, v in (
            ("values", spec.values),
            ("categorical_values", spec.categorical_values),
            ("grid", spec.grid),
        )
        if v is not None
    ]
    if len(given) != 1:
        raise SweepError(
            f"{path}: a categorical needs exactly one of `values` or `categorical_values`"
        )
    key, raw = given[0]
    out = [v["name"] if isinstance(v, dict) and "name" in v else v for v in raw]
    if len(out) < 2:
        raise SweepError(
            f"{path}.{key}: a categorical needs at least two values (got {out}); "
            f"for a fixed value write `value: {out[0] if out else 'x'}`"
        )
    return out


def _powers_of_two(values: list[Any]) -> bool:
    if len(values) < 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return False
    if any(v <= 0 or v & (v - 1) for v in values):
        return False
    exps = [v.bit_length() for v in values]
    return exps == list(range(exps[0], exps[0] + len(exps)))


def _condition(path: str, spec: ParameterSpec) -> dict[str, list[Any]] | None:
    if spec.conditions is not None and spec.condition is not None:
        raise SweepError(f"{path}: give `conditions` once")
    raw = spec.conditions if spec.conditions is not None else spec.condition
    if raw is None:
        return None
    if not raw:
        raise SweepError(
            f"{path}.conditions: name a categorical and its values, e.g. {{optimizer: [sgd]}}"
        )
    return {k: list(v) if isinstance(v, list | tuple) else [v] for k, v in raw.items()}


def to_param(path: str, spec: ParameterSpec) -> Param:
    """The typed parameter an entry describes; errors name ``path`` and the fix."""
    for unsupported in ("probabilities", "mu", "sigma", "prior"):
        if getattr(spec, unsupported) is not None:
            raise SweepError(
                f"{path}.{unsupported}: priors are not supported; remove it (the optimizer "
                "learns where the good values are)"
            )
    kind = _kind(path, spec)
    cond = _condition(path, spec)
    log = bool(spec.log) or spec.distribution in _LOG_DISTRIBUTIONS
    if spec.transformation is not None:
        if spec.transformation != "log":
            raise SweepError(
                f"{path}.transformation: only `log` is supported (got {spec.transformation!r})"
            )
        log = True
    try:
        if kind == "constant":
            if spec.value is None:
                raise SweepError(f"{path}.value: a constant needs `value: x`")
            return Constant(spec.value, condition=cond)
        if kind == "categorical":
            choices = _choices(path, spec)
            if _powers_of_two(choices):
                return Int(choices[0], choices[-1], power_of_two=True, condition=cond)
            return Categorical(choices, condition=cond)
        lo, hi = _bounds(path, spec)
        if lo is None or hi is None:  # pragma: no cover - _bounds raises
            raise SweepError(f"{path}: min and max are required")
        if spec.distribution == "log_uniform":
            for what, v in (("min", lo), ("max", hi)):
                if not -700 <= v <= 700:
                    raise SweepError(
                        f"{path}.{what}: log_uniform bounds are exponents (e^{v:g} is out of "
                        "range); give the values themselves with `log_uniform_values`"
                    )
            lo, hi = math.exp(lo), math.exp(hi)
        if kind == "float":
            return Float(lo, hi, log=log, condition=cond)
        for what, v in (("min", lo), ("max", hi)):
            if not _is_integral(v):
                raise SweepError(
                    f"{path}.{what}: an integer parameter needs integer bounds (got {v})"
                )
        step = spec.step if spec.step is not None else int(spec.q) if spec.q is not None else 1
        return Int(
            int(lo), int(hi), log=log, step=step, power_of_two=spec.power_of_two, condition=cond
        )
    except SpaceError as e:
        raise SweepError(f"{path}: {e}") from None
    except (OverflowError, ValueError, TypeError) as e:  # e.g. bounds past a float's range
        raise SweepError(f"{path}: {e}") from None


def build_space(spec: SweepSpec) -> SearchSpace:
    params: dict[str, Param] = {}
    for i, c in enumerate(spec.conditionals or []):
        try:
            params[c.name] = Categorical(c.values)
        except SpaceError as e:
            raise SweepError(f"conditionals[{i}]: {e}") from None
    if isinstance(spec.parameters, list):
        entries = []
        for i, p in enumerate(spec.parameters):
            if not p.name:
                raise SweepError(f"parameters[{i}].name: required in the list form; add `name:`")
            entries.append((f"parameters[{i}]", p.name, p))
    else:
        entries = [(f"parameters.{n}", n, p) for n, p in spec.parameters.items()]
    if not entries:
        raise SweepError("parameters: give at least one parameter")
    for where, name, p in entries:
        if name in params:
            raise SweepError(f"{where}: duplicate parameter {name!r}")
        params[name] = to_param(where, p)
    constraints = []
    for i, lc in enumerate(spec.linear_constraints or []):
        kind = lc.type.lower()
        if kind not in ("greater_than", "less_than"):
            raise SweepError(
                f"linear_constraints[{i}].type: use greater_than or less_than (got {lc.type!r})"
            )
        terms = {t.name: t.weight for t in lc.terms}
        try:
            constraints.append(
                LinearConstraint(terms, lower=lc.threshold)
                if kind == "greater_than"
                else LinearConstraint(terms, upper=lc.threshold)
            )
        except SpaceError as e:
            raise SweepError(f"linear_constraints[{i}]: {e}") from None
    try:
        return SearchSpace(params, constraints=constraints)
    except SpaceError as e:
        msg = str(e)
        where = "linear_constraints" if msg.startswith("constraint") else "parameters"
        head = msg.split(":", 1)[0]
        if where == "parameters" and head in params:
            where = f"parameters.{head}"
            msg = msg.split(":", 1)[1].strip()
        raise SweepError(f"{where}: {msg}") from None
