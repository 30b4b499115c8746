"""What every dialect shares: the translated file and its note lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tunehooks.launch._schema import SweepError

__all__ = ["Prepared", "SweepError", "ignored_note", "take_ignored"]


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
