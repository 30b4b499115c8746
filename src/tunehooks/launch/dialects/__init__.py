"""Sweep-file dialects: each module detects its files and translates them into the one spec.

A dialect module has ``NAME``, ``detect(data) -> bool`` and
``prepare(data, path) -> Prepared``: the file as written, turned into the keys of
:class:`~tunehooks.launch._schema.SweepSpec` (tunehooks' own dialect), plus note
lines (keys accepted and ignored) and what the program expects (nested
parameters, a client library). Detection goes in :data:`DIALECTS` order; the
first that claims a file translates it; tunehooks' own dialect takes the rest.
A new dialect is one module added to that tuple.

Example:
    >>> p = prepare({"method": "random", "project": "demo", "controller": {"type": "local"},
    ...              "metric": {"name": "loss", "goal": "minimize"},
    ...              "parameters": {"lr": {"min": 0.1, "max": 1.0}}})
    >>> p.dialect, p.notes
    ('wandb', ('note: W&B keys ignored (they do not change the search): controller, project',))
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunehooks.launch.dialects import sigopt, tunehooks, wandb
from tunehooks.launch.dialects._common import Prepared

__all__ = ["DIALECTS", "Prepared", "prepare"]

DIALECTS = (sigopt, wandb)


def prepare(data: Mapping[str, Any], path: Path | None = None) -> Prepared:
    """The file translated by the first dialect that claims it (tunehooks' own otherwise)."""
    for dialect in DIALECTS:
        if dialect.detect(data):
            prepared: Prepared = dialect.prepare(data, path)
            return prepared
    return tunehooks.prepare(data, path)
