"""The SQLAlchemy engines: SQLite (read-write, read-only) and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from tunehooks._extras import install_hint
from tunehooks._urls import mask_url
from tunehooks.storage.base import StorageError

__all__ = ["postgres_engine", "sqlite_engine", "sqlite_path", "sqlite_readonly_engine"]


def sqlite_path(url: sa.URL) -> str | None:
    db = url.database
    return None if not db or db == ":memory:" else db


def sqlite_readonly_engine(parsed: sa.URL, url: str) -> Engine:
    """An engine on an existing SQLite file opened ``mode=ro``: one deferred transaction
    per read (a WAL snapshot) that never waits for the workers writing the file."""
    path = parsed.database
    if not path or path == ":memory:":
        raise StorageError(
            f"storage {mask_url(url)!r}: an in-memory database cannot be opened from another "
            "connection; pass the Experiment object itself"
        )
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise StorageError(f"storage {mask_url(url)!r}: no database file at {path}")
    uri = f"file:{urllib.parse.quote(path)}?mode=ro"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, timeout=60, check_same_thread=False)
        conn.isolation_level = None
        conn.execute("PRAGMA busy_timeout = 60000")
        return conn

    engine = sa.create_engine("sqlite://", creator=connect)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")  # deferred: a read snapshot, no write lock

    return engine


def sqlite_engine(url: sa.URL, echo: bool) -> Engine:
    """A read-write SQLite engine: WAL journal, ``BEGIN IMMEDIATE`` for writes."""
    path = sqlite_path(url)
    if path is None:
        engine = sa.create_engine(
            "sqlite://",
            echo=echo,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
    else:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise StorageError(f"storage: folder {folder!r} of {str(url)!r} does not exist")
        engine = sa.create_engine(url, echo=echo, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 60000")
        cur.execute("PRAGMA foreign_keys = ON")
        if path is not None:
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("tunehooks_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def postgres_engine(parsed: sa.URL, *, echo: bool, read_only: bool) -> Engine:
    """A PostgreSQL engine through psycopg 3 (``READ ONLY`` transactions when ``read_only``)."""
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        engine = sa.create_engine(
            parsed,
            echo=echo,
            pool_pre_ping=True,
            pool_size=1 if read_only else 2,
            max_overflow=4,
            pool_recycle=600,
        )
    except ModuleNotFoundError:
        raise StorageError(install_hint("storage: PostgreSQL", "psycopg", "postgres")) from None
    return engine.execution_options(postgresql_readonly=True) if read_only else engine
