"""Which driver errors are retried: classified by type and code, from real errors."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tunehooks.storage import StorageUnavailableError
from tunehooks.storage._retry import Transient, classify, retry


def _error(fn) -> BaseException:  # type: ignore[no-untyped-def]
    try:
        fn()
    except BaseException as e:
        return e
    raise AssertionError("no error")


def test_sqlite_errors(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    a = sqlite3.connect(db, timeout=0, isolation_level=None)
    a.execute("CREATE TABLE t (x)")
    a.execute("BEGIN IMMEDIATE")
    b = sqlite3.connect(db, timeout=0, isolation_level=None)
    assert classify(_error(lambda: b.execute("BEGIN IMMEDIATE"))) is Transient.LOCK
    a.execute("COMMIT")
    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert classify(_error(lambda: ro.execute("INSERT INTO t VALUES (1)"))) is (
        Transient.UNAVAILABLE
    )  # SQLITE_READONLY
    missing = tmp_path / "no" / "such" / "x.db"
    assert classify(_error(lambda: sqlite3.connect(missing))) is Transient.UNAVAILABLE
    assert classify(_error(lambda: b.execute("SELEC 1"))) is None  # a bad query: no retry
    assert classify(_error(lambda: b.execute("INSERT INTO nowhere VALUES (1)"))) is None
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:  # wrapped by SQLAlchemy: the driver's error decides
        assert classify(_error(lambda: conn.execute(sa.text("SELEC 1")))) is None


def test_postgres_connection_refused_is_unavailable() -> None:
    pytest.importorskip("psycopg")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    engine = sa.create_engine(f"postgresql+psycopg://u@127.0.0.1:{port}/db")
    assert classify(_error(engine.connect)) is Transient.UNAVAILABLE


def test_retry_waits_out_a_lock_and_gives_up_on_an_outage(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    holder = sqlite3.connect(db, timeout=0, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(1.0, lambda: holder.execute("COMMIT")).start()
    writer = sqlite3.connect(db, timeout=0, isolation_level=None)

    def once() -> None:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO t VALUES (1)")
        writer.execute("COMMIT")

    retry(once, sqlite3.OperationalError, timeout=0.0, what="w")  # a lock: waited for
    assert writer.execute("SELECT count(*) FROM t").fetchone() == (1,)

    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    t0 = time.monotonic()
    with pytest.raises(StorageUnavailableError, match=r"^w: the database stayed unavailable"):
        retry(lambda: ro.execute("INSERT INTO t VALUES (2)"), sqlite3.OperationalError,
              timeout=1.0, what="w")  # fmt: skip
    assert 0.8 < time.monotonic() - t0 < 5
