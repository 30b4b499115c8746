"""Storage backends. :func:`open_storage` turns a URL into a (per-process cached) backend,
chosen by the URL's scheme: ``sqlite://`` and ``postgresql://`` (:mod:`tunehooks.storage.sql`),
``memory://`` (:mod:`tunehooks.storage.memory`, tests and simulations)."""

from __future__ import annotations

import os
import threading

from tunehooks.storage._retry import StorageUnavailableError
from tunehooks.storage.base import (
    DEFAULT_STORAGE_URL,
    DuplicateExperimentError,
    ExperimentNotFoundError,
    SchemaVersionError,
    Started,
    Storage,
    StorageError,
    StoredReport,
)

__all__ = [
    "DEFAULT_STORAGE_URL",
    "DuplicateExperimentError",
    "ExperimentNotFoundError",
    "SchemaVersionError",
    "Started",
    "Storage",
    "StorageError",
    "StorageUnavailableError",
    "StoredReport",
    "default_storage_url",
    "open_storage",
    "open_storage_uncached",
]

_cache: dict[tuple[int, str], Storage] = {}
_lock = threading.Lock()


def default_storage_url() -> str:
    """``$TUNEHOOKS_STORAGE`` when set, else ``sqlite:///tunehooks.db`` in the working folder."""
    return os.environ.get("TUNEHOOKS_STORAGE") or DEFAULT_STORAGE_URL


def open_storage_uncached(url: str) -> Storage:
    """A new backend for ``url``, chosen by its scheme (the part before ``:``): ``memory``
    is :class:`~tunehooks.storage.memory.MemoryStorage`; any other URL is a SQLAlchemy
    one for :class:`~tunehooks.storage.sql.SQLStorage` (which names the databases it
    supports when it is none of them).

    Example:
        >>> open_storage_uncached("memory://").url
        'memory://'
        >>> type(open_storage_uncached("sqlite://")).__name__
        'SQLStorage'
    """
    scheme = url.partition(":")[0].lower()
    if scheme == "memory":
        from tunehooks.storage.memory import MemoryStorage

        return MemoryStorage(url)
    from tunehooks.storage.sql import SQLStorage

    return SQLStorage(url)


def open_storage(url: str | None = None) -> Storage:
    """The storage at ``url`` (default: :func:`default_storage_url`), one per URL and process."""
    url = url or default_storage_url()
    key = (os.getpid(), url)
    with _lock:
        storage = _cache.get(key)
        if storage is None:
            storage = open_storage_uncached(url)
            _cache[key] = storage
        return storage
