"""Thread limits for the small linear algebra of one ask.

A GP of 30-1,000 points does matrix work of at most a few million flops per
call: a second thread gains little and, on a machine whose cores are busy with
training processes, torch's and the BLAS's default thread pools (one thread per
core each) make every call wait for preempted threads, 10-50 times slower than
one thread. :func:`limited_threads` caps torch's intra-op threads and the BLAS /
OpenMP pools that numpy and scipy use (through ``threadpoolctl`` when it is
installed) for the duration of a ``with`` block and restores the caller's
settings afterwards, so the rest of the process (a training loop beside the
launcher) keeps its own.

The settings are process-wide: another thread of the process that runs torch
work during the block runs it with the limit too.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["DEFAULT_THREADS", "limited_threads"]

DEFAULT_THREADS = 1
"""Threads an ask uses: measured fastest at 30-1,000 observations, idle or loaded
(bench/results/ask_overhead.md)."""

_LOCK = threading.RLock()
_controller: Any = None
_controller_missing = False


def _blas_controller() -> Any:
    """A cached ``threadpoolctl.ThreadpoolController`` (or ``None`` without threadpoolctl).

    Scanning the loaded libraries costs milliseconds, so it is done once, after
    torch and scipy have loaded theirs.
    """
    global _controller, _controller_missing
    if _controller is None and not _controller_missing:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - a dependency; torch is limited anyway
            _controller_missing = True
            return None
        import scipy.linalg  # noqa: F401 - load scipy's BLAS before the scan

        _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def limited_threads(n: int = DEFAULT_THREADS) -> Iterator[None]:
    """Run the block with at most ``n`` torch intra-op and BLAS/OpenMP threads.

    Nested blocks are cheap (an inner one with the same limit changes nothing).
    The caller's ``torch.get_num_threads()`` and BLAS settings hold again after
    the block, also when it raises. It also decorates a function
    (``@limited_threads()``): every call then runs with the limit.

    Example:
        >>> import torch
        >>> before = torch.get_num_threads()
        >>> with limited_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    import torch

    n = max(1, int(n))
    with _LOCK:
        before = torch.get_num_threads()
        if before != n:
            torch.set_num_threads(n)
        ctl = _blas_controller()
        try:
            if ctl is None:
                yield
            else:
                with ctl.limit(limits=n):
                    yield
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)
