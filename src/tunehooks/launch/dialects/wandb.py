"""The W&B sweep dialect (``wandb sweep sweep.yaml``), translated into tunehooks' keys.

What W&B files write and what it becomes here:

- ``distribution:`` (``uniform``, ``int_uniform``, ``log_uniform_values``,
  ``log_uniform``, ``q_uniform``, ``q_log_uniform_values``, ``q_log_uniform``,
  ``inv_log_uniform_values``, ``inv_log_uniform``, ``categorical``, ``constant``)
  -> typed parameters (``normal``/``beta`` priors are refused);
- nested ``parameters:`` -> dotted names (``optimizer.lr``), nested again for the
  program (``wandb.config``, ``${args_json}``); ``${args}`` passes a group as W&B's
  agent does (``--optimizer={'lr': 0.01}``);
- ``values: [x]`` -> the constant ``x``; ``null`` inside ``values`` -> a choice ``None``;
- no ``run_cap`` -> runs until stopped (or ``--trials N``);
- ``early_terminate: {type: hyperband, ...}`` -> an ASHA fidelity whose rungs are
  W&B's bands (``max_iter`` and ``s``: ``max_iter/eta^s ... max_iter``; ``min_iter``
  alone: ``min_iter, min_iter*eta, ...`` for as long as the program reports);
- ``project``, ``entity``, ``controller``, ``description``, ``job``, ... -> one note line.

Example:
    >>> p = prepare({"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
    ...     "parameters": {"optimizer": {"parameters": {"lr": {"values": [0.1, 0.01]}}}}})
    >>> p.data["parameters"], p.nested
    ({'optimizer.lr': {'values': [0.1, 0.01]}}, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunehooks.fidelity import Fidelity
from tunehooks.launch.dialects._common import (
    Prepared,
    SweepError,
    ignored_note,
    move_budget,
    take_ignored,
)
from tunehooks.launch.layout import NULL

__all__ = ["DISTRIBUTIONS", "NAME", "NULL", "detect", "hyperband_fidelity", "prepare"]

NAME = "wandb"
DISTRIBUTIONS = (
    "constant",
    "categorical",
    "int_uniform",
    "uniform",
    "log_uniform_values",
    "log_uniform",
    "q_uniform",
    "q_log_uniform_values",
    "q_log_uniform",
    "inv_log_uniform_values",
    "inv_log_uniform",
)
_IGNORED = ("project", "entity", "description", "controller", "job", "scheduler", "image_uri")
_MARKERS = ("run_cap", "early_terminate", "controller", "project", "entity", "job")
_MAX_GRID = 1000


def _entries(params: Any) -> list[Any]:
    return list(params.values()) if isinstance(params, Mapping) else []


def _wandb_entry(entry: Any) -> bool:
    return isinstance(entry, Mapping) and (
        "distribution" in entry or isinstance(entry.get("parameters"), Mapping)
    )


def detect(data: Mapping[str, Any]) -> bool:
    """A W&B file: W&B-only keys, ``distribution:`` entries or nested ``parameters:``."""
    if any(k in data for k in _MARKERS):
        return True
    metric = data.get("metric")
    if isinstance(metric, Mapping) and "target" in metric:
        return True
    return any(_wandb_entry(e) for e in _entries(data.get("parameters")))


def prepare(data: Mapping[str, Any], path: Path | None = None) -> Prepared:
    out = dict(data)
    notes = ignored_note("W&B", take_ignored(out, _IGNORED))
    move_budget(out, "run_cap")
    metric = out.get("metric")
    if isinstance(metric, Mapping):
        metric = dict(metric)
        if "goal" not in metric and "objective" not in metric:
            metric["goal"] = "minimize"
            notes.append("note: metric.goal not given: minimize, W&B's default")
        if "target" in metric:
            notes.append(
                "note: metric.target is ignored: the sweep does not end when a run reaches it "
                "(use --trials N or budget.trials)"
            )
            metric.pop("target")
        out["metric"] = metric
    nested = False
    params = out.get("parameters")
    if isinstance(params, Mapping):
        flat: dict[str, Any] = {}
        nested = _flatten("parameters", "", params, flat, notes)
        out["parameters"] = flat
    return Prepared(
        out,
        NAME,
        tuple(notes),
        nested=nested,
        clients=("wandb",),
        flag_style="wandb" if nested else "dotted",
        nulls=_has_null(params),
    )


def _has_null(params: Any) -> bool:
    if not isinstance(params, Mapping):
        return False
    for e in params.values():
        if isinstance(e, Mapping):
            values = e.get("values")
            if isinstance(values, list) and any(v is None for v in values):
                return True
            if _has_null(e.get("parameters")):
                return True
    return False


def _flatten(
    where: str, prefix: str, params: Mapping[str, Any], out: dict[str, Any], notes: list[str]
) -> bool:
    nested = False
    for name, entry in params.items():
        full = f"{prefix}{name}"
        if isinstance(entry, Mapping) and isinstance(entry.get("parameters"), Mapping):
            others = sorted(k for k in entry if k != "parameters")
            if others:
                raise SweepError(
                    f"{where}.{name}: a nested group takes only `parameters:` (got {others[0]})"
                )
            _flatten(f"{where}.{name}.parameters", f"{full}.", entry["parameters"], out, notes)
            nested = True
            continue
        out[full] = _entry(f"{where}.{name}", entry, notes) if isinstance(entry, Mapping) else entry
    return nested


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _entry(where: str, entry: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    e = dict(entry)
    values = e.get("values")
    if isinstance(values, list):
        if any(v is None for v in values):
            if NULL in values:
                raise SweepError(f"{where}.values: give null or {NULL!r}, not both")
            e["values"] = values = [NULL if v is None else v for v in values]
        if len(values) == 1 and "distribution" not in e:
            e.pop("values")
            e["value"] = values[0]
    dist = e.get("distribution")
    if not isinstance(dist, str) or dist not in DISTRIBUTIONS:
        return e  # priors and unknown names: refused by the parameter step, with the list
    if dist == "constant" and "value" in e:
        e.pop("distribution")
        return e
    if dist == "categorical" and "values" in e:
        e.pop("distribution")
        return e
    lo, hi = e.get("min"), e.get("max")
    if dist in ("constant", "categorical") or not (_num(lo) and _num(hi)):
        return e
    lo, hi = float(lo) if isinstance(lo, float) else lo, float(hi) if isinstance(hi, float) else hi
    if not (isinstance(lo, int | float) and isinstance(hi, int | float)):  # pragma: no cover
        return e
    q = e.pop("q", None) if dist.startswith("q_") else e.get("q")
    if dist in ("log_uniform", "q_log_uniform", "inv_log_uniform"):
        for what, v in (("min", lo), ("max", hi)):
            if not -700 <= v <= 700:
                raise SweepError(
                    f"{where}.{what}: {dist} bounds are exponents (e^{v:g} is out of range); "
                    f"give the values themselves with `{dist}_values`"
                )
        lo, hi = (
            (math.exp(-hi), math.exp(-lo))
            if dist == "inv_log_uniform"
            else (
                math.exp(lo),
                math.exp(hi),
            )
        )
    e.pop("distribution")
    e["min"], e["max"] = lo, hi
    if dist in ("int_uniform",):
        e["type"] = "int"
    elif dist in ("uniform",):
        e["type"] = "float"
    elif dist in ("log_uniform_values", "log_uniform", "inv_log_uniform_values", "inv_log_uniform"):
        e["type"], e["log"] = "float", True
    elif dist in ("q_uniform", "q_log_uniform_values", "q_log_uniform"):
        _quantized(where, dist, e, 1 if q is None else q, notes)
    return e


def _quantized(where: str, dist: str, e: dict[str, Any], q: Any, notes: list[str]) -> None:
    """``round(X / q) * q``: an integer range with step ``q``, or the grid of its values."""
    if not _num(q) or q <= 0:
        raise SweepError(f"{where}.q: a positive number (got {q!r})")
    lo, hi = e["min"], e["max"]
    log = dist != "q_uniform"
    k_lo, k_hi = math.ceil(lo / q - 1e-9), math.floor(hi / q + 1e-9)
    if k_hi < k_lo:
        raise SweepError(f"{where}: no multiple of q={q:g} lies in [{lo:g}, {hi:g}]")
    if float(q).is_integer():
        step = int(q)
        e["type"], e["min"], e["max"] = "int", k_lo * step, k_hi * step
        if log and step == 1:
            e["log"] = True
        elif step > 1:
            e["step"] = step
            if log:
                notes.append(
                    f"note: {where}: every multiple of {step} in [{e['min']}, {e['max']}], "
                    "searched on a linear scale (a log scale and a step cannot be combined)"
                )
        return
    if k_hi - k_lo + 1 > _MAX_GRID:
        raise SweepError(
            f"{where}.q: q={q:g} gives {k_hi - k_lo + 1} values (at most {_MAX_GRID}); "
            "use a larger q or drop it (a continuous range)"
        )
    digits = max(0, -math.floor(math.log10(abs(q)))) + 6
    for k in ("min", "max"):
        e.pop(k)
    e["values"] = [round(k * q, digits) for k in range(k_lo, k_hi + 1)]
    if len(e["values"]) == 1:
        e["value"] = e.pop("values")[0]


def hyperband_fidelity(et: Any) -> tuple[Fidelity, bool]:
    """The fidelity of W&B's ``early_terminate: {type: hyperband}``, and whether its rungs are
    open-ended (``min_iter`` without ``max_iter``: they go on as long as the program reports).

    W&B's bands: with ``max_iter`` and ``s``, ``max_iter/eta^s, ..., max_iter/eta`` (whole
    numbers); with ``min_iter`` alone, ``min_iter * eta^k``. Here they are ASHA's rungs
    (the fidelity's ``max`` is the last band times ``eta``, where no decision is made).

    Example:
        >>> from types import SimpleNamespace as S
        >>> f, open_ended = hyperband_fidelity(S(type="hyperband", min_iter=None, max_iter=27,
        ...     s=2, eta=3.0, strict=None))
        >>> (f.min_resource, f.max_resource, open_ended)
        (3.0, 27.0, False)
    """
    if et.type.lower() != "hyperband":
        raise SweepError(f"early_terminate.type: only hyperband is supported (got {et.type!r})")
    if et.strict:
        raise SweepError(
            "early_terminate.strict: W&B's strict mode is not supported; remove it "
            "(runs are stopped at each band by ASHA's top-1/eta rule)"
        )
    eta = et.eta
    if not eta > 1:
        raise SweepError(f"early_terminate.eta: must be > 1 (got {eta})")
    open_ended = et.max_iter is None
    if open_ended:
        if et.min_iter is None:
            raise SweepError(
                "early_terminate: give `min_iter` (the first band) or `max_iter` (a full training)"
            )
        if et.s is not None:
            raise SweepError(
                "early_terminate.s: W&B reads `s` only with `max_iter`; add max_iter or drop s"
            )
        lo = float(et.min_iter)
        k = max(1, math.ceil(math.log(1e6 / max(lo, 1e-9), eta)))
        hi = lo * eta**k
    else:
        hi = float(et.max_iter)
        if et.s is not None:
            if not 1 <= et.s <= 20:
                raise SweepError(f"early_terminate.s: between 1 and 20 bands (got {et.s})")
            lo = float(max(1, int(hi / eta**et.s)))
            hi = min(hi, lo * eta**et.s)  # W&B's last band is below max_iter: no rung past it
        else:
            lo = float(et.min_iter or 1)
    try:
        return Fidelity(min=lo, max=hi, eta=eta, scheduler="asha"), open_ended
    except ValueError as e:
        raise SweepError(f"early_terminate: {str(e).split(': ', 1)[-1]}") from None
