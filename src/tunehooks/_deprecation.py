"""Renamed public names: the old one keeps working and warns once per process.

A deprecated alias also carries ``@typing_extensions.deprecated(..., category=None)``
(no warning of its own at run time): ``mypy --enable-error-code deprecated`` then
flags any use of it, and ``tests/unit/test_renames.py`` checks that tunehooks' own
code has none.
"""

from __future__ import annotations

import threading
import warnings

__all__ = ["warn_renamed"]

_warned: set[str] = set()
_lock = threading.Lock()


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
