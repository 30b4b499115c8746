"""The sweep file in tunehooks' own keys: pydantic models (other tools' files are translated first).

Validation errors are turned into one line that names the YAML path and the fix.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from tunehooks._extras import install_hint

try:
    from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
except ModuleNotFoundError as e:  # pragma: no cover - the launch extra is missing
    raise ModuleNotFoundError(
        install_hint("tunehooks launch", e.name or "pydantic", "launch"), name=e.name
    ) from e

__all__ = ["ParameterSpec", "SweepError", "SweepSpec", "explain"]


class SweepError(ValueError):
    """An invalid sweep file; the message starts with the YAML path of the problem."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BoundsSpec(_Spec):
    min: int | float
    max: int | float


class ParameterSpec(_Spec):
    """One parameter entry, either dialect (validated into a ``Param`` by ``to_param``).

    Example:
        >>> ParameterSpec(type="int", bounds={"min": 16, "max": 512}, transformation="log").bounds
        BoundsSpec(min=16, max=512)
    """

    name: str | None = None
    type: str | None = None
    value: Any = None
    values: list[Any] | None = None
    categorical_values: list[Any] | None = None
    grid: list[Any] | None = None
    distribution: str | None = None
    min: int | float | None = None
    max: int | float | None = None
    bounds: BoundsSpec | None = None
    q: int | float | None = None
    step: int | None = None
    log: bool | None = None
    transformation: str | None = None
    power_of_two: bool = False
    conditions: dict[str, Any] | None = None
    condition: dict[str, Any] | None = None
    probabilities: Any = None
    mu: Any = None
    sigma: Any = None
    prior: Any = None


class MetricSpec(_Spec):
    name: str
    goal: str | None = None
    objective: str | None = None  # SigOpt's word for goal
    strategy: str = "optimize"
    threshold: float | None = None
    target: float | None = None  # W&B: accepted, unused


class BudgetSpec(_Spec):
    trials: int | None = None
    run_cap: int | None = None
    observation_budget: int | None = None
    cost: float | None = None


class ResourcesSpec(_Spec):
    workers: int | None = None
    gpus_per_trial: int | float = 1  # a fraction shares a GPU: 0.5 runs two trials on one
    devices: list[int | str] | None = None
    executor: str | None = None  # local, or ray: trials placed on a Ray cluster
    cpus_per_trial: int | float = 1  # the executor ray's num_cpus
    memory_gb: int | float | None = None  # the executor ray's memory


class TaskSpec(_Spec):
    name: str
    cost: float


class FidelitySpec(_Spec):
    resource: str = "epoch"
    min: float | None = None
    max: float | None = None
    eta: float = 3.0
    scheduler: str | None = None
    metric: str | None = None
    tasks: list[TaskSpec] | None = None


class EarlyTerminateSpec(_Spec):
    type: str
    min_iter: int | None = None
    max_iter: int | None = None
    eta: float = 3.0
    s: int | None = None
    strict: bool | None = None


class ConditionalSpec(_Spec):
    name: str
    values: list[Any]


class ConstraintTermSpec(_Spec):
    name: str
    weight: float


class LinearConstraintSpec(_Spec):
    type: str
    threshold: float
    terms: list[ConstraintTermSpec]


class OnFailureSpec(_Spec):
    retries: int = 0
    stop_after: int = 3
    max_failure_rate: float = 0.5
    rate_after: int = 10

    @field_validator("retries")
    @classmethod
    def _retries(cls, v: int) -> int:
        if not 0 <= v <= 100:
            raise ValueError("must be between 0 and 100")
        return v

    @field_validator("stop_after", "rate_after")
    @classmethod
    def _count(cls, v: int) -> int:
        if not 0 <= v <= 1_000_000:
            raise ValueError("must be between 0 (never) and 1000000")
        return v

    @field_validator("max_failure_rate")
    @classmethod
    def _rate(cls, v: float) -> float:
        if not 0.0 < v <= 1.0:
            raise ValueError("must be a fraction in (0, 1]; 1 never stops")
        return v


class SweepSpec(_Spec):
    """The sweep file in tunehooks' own keys (another tool's file is translated into them
    first, by its module in :mod:`tunehooks.launch.dialects`); :func:`~tunehooks.launch.parse_sweep`
    validates it and normalizes it to a :class:`~tunehooks.launch.Sweep`.

    Example:
        >>> spec = SweepSpec.model_validate({"program": "train.py", "budget": 5,
        ...     "metric": {"name": "acc", "goal": "maximize"},
        ...     "parameters": {"lr": {"min": 0.001, "max": 0.1}}})
        >>> spec.budget, spec.parameters["lr"].max
        (5, 0.1)
    """

    name: str | None = None
    storage: str | None = None
    program: str | None = None
    command: list[str] | str | None = None
    method: str | None = None
    metric: MetricSpec | None = None
    metrics: list[MetricSpec] | None = None
    parameters: dict[str, ParameterSpec] | list[ParameterSpec]
    conditionals: list[ConditionalSpec] | None = None
    linear_constraints: list[LinearConstraintSpec] | None = None
    budget: BudgetSpec | int | None = None
    resources: ResourcesSpec | None = None
    fidelity: FidelitySpec | None = None
    early_terminate: EarlyTerminateSpec | None = None
    on_failure: OnFailureSpec | None = None
    enqueue: list[dict[str, Any]] | None = None
    seed: int | None = None  # None: a random seed, drawn once and stored with the experiment
    optimizer_options: dict[str, Any] | None = None
    storage_timeout: float | None = None
    templates: list[str] | None = None  # Rescale: input files with ${name} macros, per trial
    checkpoint_dir: str | None = None  # trials' checkpoints (a shared filesystem for many hosts)
    # metadata: accepted, unused (each tool's own keys: launch/dialects/)
    description: str | None = None
    metadata: dict[str, Any] | None = None


def _loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"(int|float|str|list|dict)\[.*\]|[a-zA-Z]+Spec", part) or part in (
            "int",
            "float",
            "str",
            "list",
            "dict",
            "bool",
        ):
            continue  # pydantic's union-branch names
        else:
            out += f".{part}" if out else part
    return out


def explain(e: ValidationError) -> str:
    """One line for a validation error: each problem's YAML path, what is wrong, the fix."""
    by_loc: dict[str, list[dict[str, Any]]] = {}
    for err in e.errors():
        by_loc.setdefault(_loc(err["loc"]), []).append(dict(err))
    # a union (e.g. `budget: 40` or `budget: {trials: 40}`) reports every branch: keep the
    # deepest problems, where the input came closest to a valid form
    deep = [w for w in by_loc if not any(o != w and _inside(o, w) for o in by_loc)]
    problems = []
    for where in deep:
        errs = by_loc[where]
        first = errs[0]
        if first["type"] == "extra_forbidden":
            key = where.rsplit(".", 1)[-1]
            known = sorted(_known_keys(where))
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"known keys: {', '.join(known)}"
            problems.append(f"{where}: unknown key; {hint}")
        elif first["type"] == "missing":
            problems.append(f"{where}: required; add it")
        else:
            kinds = [m.group(1) for x in errs if (m := _KIND.match(str(x["msg"])))]
            if len(kinds) == len(errs):
                unique = list(dict.fromkeys(kinds))
                what = "should be " + " or ".join(_WORDS.get(k, f"a {k}") for k in unique)
            else:
                what = str(first["msg"])
            problems.append(f"{where}: {what} (got {_short(first.get('input'))})")
    return "; ".join(problems[:3]) + (
        f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    )


_KIND = re.compile(r"Input should be a valid (\w+)")
_WORDS = {
    "dictionary": "a mapping ({key: value})",
    "integer": "an integer",
    "number": "a number",
    "list": "a list ([...])",
    "boolean": "true or false",
}


def _short(value: Any) -> str:
    """A bounded repr of a user's value (it may be huge or deeply nested)."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxstring, r.maxother, r.maxlong = 3, 60, 60, 60
    return r.repr(value)


def _inside(deeper: str, outer: str) -> bool:
    return deeper.startswith(outer) and deeper[len(outer) : len(outer) + 1] in (".", "[")


def _known_keys(where: str) -> list[str]:
    parts = where.split(".")
    head = parts[0].split("[")[0]
    models: dict[str, type[BaseModel]] = {
        "metrics": MetricSpec,
        "metric": MetricSpec,
        "budget": BudgetSpec,
        "resources": ResourcesSpec,
        "fidelity": FidelitySpec,
        "early_terminate": EarlyTerminateSpec,
        "on_failure": OnFailureSpec,
        "parameters": ParameterSpec,
        "linear_constraints": LinearConstraintSpec,
        "conditionals": ConditionalSpec,
    }
    model = SweepSpec if len(parts) == 1 else models.get(head, SweepSpec)
    return [k for k in model.model_fields if k not in ("target",)]
