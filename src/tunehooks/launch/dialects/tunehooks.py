"""tunehooks' own dialect: the keys of docs/launch.md, taken as written."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunehooks.launch.dialects._common import Prepared, ignored_note, take_ignored

__all__ = ["NAME", "detect", "prepare"]

NAME = "tunehooks"
_METADATA = ("description", "metadata")


def detect(data: Mapping[str, Any]) -> bool:
    """Every file that no other dialect claims."""
    return True


def prepare(data: Mapping[str, Any], path: Path | None = None) -> Prepared:
    out = dict(data)
    meta = {k: out[k] for k in _METADATA if k in out}
    take_ignored(out, _METADATA)
    return Prepared(out, NAME, tuple(ignored_note("metadata", [])), metadata=meta)
