"""Which database errors are worth retrying, and the retry loop with backoff.

Errors are classified by the driver's exception type and error code, never by
message text where the driver gives a type:

- ``LOCK``: another writer holds the lock (SQLite ``SQLITE_BUSY``/``SQLITE_LOCKED``,
  PostgreSQL serialization failures, deadlocks, lock timeouts). Retried at once
  with a short jittered backoff.
- ``UNAVAILABLE``: the database cannot be used right now but may be again soon
  (connection refused, server restart or shutdown, a dropped connection, disk
  full, a read-only or unopenable file, an I/O error). Retried with a growing
  backoff for a bounded time.
- anything else (a bad query, a constraint, a wrong password) is not retried.
"""

from __future__ import annotations

import enum
import random
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from tunehooks.storage.base import StorageError

__all__ = [
    "DEFAULT_RETRY_TIMEOUT",
    "LOCK_TIMEOUT",
    "StorageUnavailableError",
    "Transient",
    "classify",
    "retry",
]

T = TypeVar("T")

DEFAULT_RETRY_TIMEOUT = 300.0
"""Seconds an operation is retried while the database is unavailable (server restart,
disk full) before :class:`StorageUnavailableError` is raised."""

LOCK_TIMEOUT = 60.0
"""Seconds an operation waits for a lock at least (whatever its retry timeout)."""

# SQLite primary result codes (sqlite3.h); the extended code's low byte is the primary one
_SQLITE_LOCK = {5, 6}  # BUSY, LOCKED
_SQLITE_UNAVAILABLE = {8, 10, 13, 14, 15}  # READONLY, IOERR, FULL, CANTOPEN, PROTOCOL


class StorageUnavailableError(StorageError):
    """A transient database error (server down, disk full, a lock) outlasted its retries.

    ``transient`` is the kind of the last error; ``cause`` its one-line text.
    """

    def __init__(self, message: str, *, transient: Transient, cause: str) -> None:
        super().__init__(message)
        self.transient = transient
        self.cause = cause


class Transient(str, enum.Enum):
    """The kind of a retryable error."""

    LOCK = "lock"
    UNAVAILABLE = "unavailable"


def _driver_error(exc: BaseException) -> BaseException:
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


def classify(exc: BaseException) -> Transient | None:
    """The kind of a retryable error, or ``None`` when retrying cannot help.

    Example:
        >>> import sqlite3
        >>> try:
        ...     sqlite3.connect(":memory:").execute("SELECT * FROM nowhere")
        ... except sqlite3.Error as e:
        ...     print(classify(e))
        None
    """
    orig = _driver_error(exc)
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is None:
            return None
        primary = int(code) & 0xFF
        if primary in _SQLITE_LOCK:
            return Transient.LOCK
        return Transient.UNAVAILABLE if primary in _SQLITE_UNAVAILABLE else None
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(orig, psycopg.Error):
        errors = psycopg.errors
        if isinstance(
            orig, errors.SerializationFailure | errors.DeadlockDetected | errors.LockNotAvailable
        ):
            return Transient.LOCK
        state = getattr(orig, "sqlstate", None) or ""
        if state.startswith("28"):  # a wrong user or password: no retry helps
            return None
        if isinstance(orig, psycopg.OperationalError):  # connection lost or refused, shutdown,
            return Transient.UNAVAILABLE  # disk full, too many clients, out of memory
        return None
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return Transient.UNAVAILABLE
    return None


def describe(exc: BaseException) -> str:
    """The driver's message of ``exc`` on one line."""
    text = " ".join(str(_driver_error(exc)).split())
    return text[:300]


def retry(
    once: Callable[[], T],
    errors: type[BaseException] | tuple[type[BaseException], ...],
    *,
    timeout: float,
    what: str,
) -> T:
    """``once()``, again after a jittered, growing pause while it fails with a transient
    error: a lock for at least :data:`LOCK_TIMEOUT` seconds, an unavailable database for
    ``timeout`` seconds; then :class:`StorageUnavailableError` naming ``what``."""
    start = time.monotonic()
    delay = 0.01
    while True:
        try:
            return once()
        except errors as e:
            kind = classify(e)
            if kind is None:
                raise
            limit = max(timeout, LOCK_TIMEOUT) if kind is Transient.LOCK else timeout
            waited = time.monotonic() - start
            if waited >= limit:
                cause = describe(e)
                raise StorageUnavailableError(
                    f"{what}: the database stayed unavailable for {waited:.0f}s ({cause})",
                    transient=kind,
                    cause=cause,
                ) from None
            time.sleep(min(delay * (0.5 + random.random()), limit - waited + 0.001))
            delay = min(delay * 2, 1.0 if kind is Transient.LOCK else 2.0)
