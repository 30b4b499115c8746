"""What every dialect shares: the translated file and its note lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tunehooks.launch._schema import SweepError

__all__ = ["Prepared", "SweepError", "ignored_note", "move_budget", "move_workers", "take_ignored"]


@dataclass(frozen=True)
class Prepared:
    """A sweep file translated into tunehooks' own keys.

    ``nested``: parameter groups written nested (``optimizer: {parameters: {lr: ...}}``),
    flattened here to dotted names (``optimizer.lr``) and nested again for the program;
    ``clients``: the client libraries whose calls the trial's program may make
    (``wandb``, ``sigopt``), given their parameters through the library itself.
    """

    data: dict[str, Any]
    dialect: str
    notes: tuple[str, ...] = ()
    nested: bool = False
    clients: tuple[str, ...] = ()
    flag_style: str = "dotted"
    nulls: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)


def take_ignored(data: dict[str, Any], keys: Iterable[str]) -> list[str]:
    """Remove ``keys`` from ``data``; the ones that were there, sorted."""
    found = sorted(k for k in keys if k in data)
    for k in found:
        data.pop(k)
    return found


def ignored_note(tool: str, keys: Iterable[str]) -> list[str]:
    """One note line for keys accepted and ignored (none when there are none)."""
    keys = sorted(set(keys))
    if not keys:
        return []
    return [f"note: {tool} keys ignored (they do not change the search): {', '.join(keys)}"]


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SweepError(f"{key}: should be an integer (got {value!r})")
    return value


def move_budget(data: dict[str, Any], key: str) -> None:
    """A tool's trial budget key (``run_cap``, ``observation_budget``) as ``budget.trials``."""
    if key not in data:
        return
    n = _count(key, data.pop(key))
    budget = data.get("budget")
    if budget is None:
        data["budget"] = {"trials": n}
        return
    if isinstance(budget, Mapping) and not any(
        budget.get(k) is not None for k in ("trials", "run_cap", "observation_budget")
    ):
        data["budget"] = {**budget, "trials": n}
        return
    raise SweepError(f"{key}: the trial budget is given twice (budget too); keep one")


def move_workers(data: dict[str, Any], key: str) -> None:
    """A tool's parallelism key (``parallel_bandwidth``) as ``resources.workers``."""
    if key not in data:
        return
    n = _count(key, data.pop(key))
    res = data.get("resources")
    if res is None:
        res = {}
    if not isinstance(res, Mapping):
        return  # the schema says what `resources` should be
    if res.get("workers") is not None:
        raise SweepError(f"{key}: the workers are given twice (resources.workers too); keep one")
    data["resources"] = {**res, "workers": n}
