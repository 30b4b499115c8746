"""Storage backends. :func:`open_storage` turns a URL into a (per-process cached) backend."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from tunehooks.storage._retry import StorageUnavailableError
from tunehooks.storage.base import (
    DEFAULT_STORAGE_URL,
    DuplicateExperimentError,
    ExperimentNotFoundError,
    SchemaVersionError,
    Storage,
    StorageError,
    StoredReport,
)

if TYPE_CHECKING:
    from tunehooks.storage.sql import SQLStorage

__all__ = [
    "DEFAULT_STORAGE_URL",
    "DuplicateExperimentError",
    "ExperimentNotFoundError",
    "SchemaVersionError",
    "Storage",
    "StorageError",
    "StorageUnavailableError",
    "StoredReport",
    "default_storage_url",
    "open_storage",
]

_cache: dict[tuple[int, str], SQLStorage] = {}
_lock = threading.Lock()


def default_storage_url() -> str:
    """``$TUNEHOOKS_STORAGE`` when set, else ``sqlite:///tunehooks.db`` in the working folder."""
    return os.environ.get("TUNEHOOKS_STORAGE") or DEFAULT_STORAGE_URL


def open_storage(url: str | None = None) -> SQLStorage:
    """The storage at ``url`` (default: :func:`default_storage_url`), one per URL and process."""
    from tunehooks.storage.sql import SQLStorage

    url = url or default_storage_url()
    key = (os.getpid(), url)
    with _lock:
        storage = _cache.get(key)
        if storage is None:
            storage = SQLStorage(url)
            _cache[key] = storage
        return storage
