"""Renamed public names: the old one keeps working and warns once per process."""

from __future__ import annotations

import sys
import threading
import warnings

__all__ = ["called_from_tunehooks", "warn_renamed"]

_warned: set[str] = set()
_lock = threading.Lock()


def called_from_tunehooks(depth: int = 2) -> bool:
    """Whether the code ``depth`` frames up (the caller of a deprecated property) is a
    module of tunehooks: the modules another branch owns (schedulers, the GP) still read
    ``Fidelity.min``/``max`` until they move to the new names, and a user running with
    ``-W error::DeprecationWarning`` must not fail on them."""
    frame = sys._getframe(depth + 1)
    return str(frame.f_globals.get("__name__", "")).startswith("tunehooks.")


def warn_renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn (:class:`DeprecationWarning`, the first time in this process) that ``old`` is
    now ``new``; ``stacklevel`` 3 points at the caller of the deprecated name.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as seen:
        ...     warnings.simplefilter("always")
        ...     warn_renamed("Thing.old_doc_example", "Thing.new")
        ...     warn_renamed("Thing.old_doc_example", "Thing.new")
        >>> [str(w.message) for w in seen]
        ['Thing.old_doc_example is deprecated: use Thing.new (same behaviour)']
    """
    with _lock:
        if old in _warned:
            return
        _warned.add(old)
    warnings.warn(
        f"{old} is deprecated: use {new} (same behaviour)",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
