"""The hot path: prepared statements for every epoch's reports and every trial's end,
the same SQL on SQLite and PostgreSQL, run through SQLAlchemy or, on SQLite, straight
through the driver on a connection each thread keeps (a quarter of SQLAlchemy's cost)."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from tunehooks._urls import mask_url
from tunehooks.storage._records import end_refused, reports_refused
from tunehooks.storage._schema import _TRIAL_COLUMNS, _to_record
from tunehooks.storage.base import StorageError, StoredReport
from tunehooks.trial import Report, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunehooks.storage.sql import SQLStorage

__all__ = ["Execute", "prepared"]

T = TypeVar("T")

_UPSERT_REPORT = sa.text(
    "INSERT INTO reports (trial_id, step, metrics, created_at) VALUES (:id, :step, :metrics, :now) "
    "ON CONFLICT (trial_id, step) DO UPDATE SET metrics = excluded.metrics, "
    "created_at = excluded.created_at"
)
_TOUCH_TRIAL = sa.text("UPDATE trials SET heartbeat_at = :now WHERE id = :id")
_FINISH_TRIAL = sa.text(
    "UPDATE trials SET state = :state, metric_values = :values, error = :error, "
    "finished_at = :now WHERE id = :id AND state IN ('RUNNING', 'QUEUED')"
)
_TRIAL_STATE = sa.text("SELECT state, number FROM trials WHERE id = :id")
_TRIAL_ROW = sa.text(f"SELECT {', '.join(_TRIAL_COLUMNS)} FROM trials WHERE id = :id")
_TRIAL_REPORTS = sa.text(
    "SELECT step, metrics, created_at FROM reports WHERE trial_id = :id ORDER BY step"
)

Execute = Callable[[sa.TextClause, Any], Any]
"""Runs one prepared statement inside the current transaction (SQLAlchemy or the driver)
with a mapping of parameters, or once per mapping of a list."""


def _report_rows(reports: Sequence[Report], now: float) -> list[tuple[int, str, float]]:
    """(step, JSON metrics, time) of each report; a report without a time gets ``now``."""
    return [(int(r.step), _metrics_json(r.metrics), r.time or now) for r in reports]


_JSON_SPECIAL = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _metrics_json(metrics: Mapping[str, float]) -> str:
    """``json.dumps(metrics, sort_keys=True)`` for float values, without building an
    encoder per call (the report path writes one per epoch).

    Example:
        >>> _metrics_json({"b": float("nan"), "a": 0.1, "c": -float("inf")})
        '{"a": 0.1, "b": NaN, "c": -Infinity}'
    """
    parts = []
    for key in sorted(metrics):
        value = metrics[key]
        if type(value) is not float:
            return _dumps(dict(metrics))
        text = repr(value)
        parts.append(f"{_quote(key)}: {_JSON_SPECIAL.get(text, text)}")
    return "{" + ", ".join(parts) + "}"


def _store_reports(
    execute: Execute, trial_id: int, rows: Sequence[tuple[int, str, float]], now: float
) -> StoredReport:
    """Check the trial is RUNNING, upsert the reports (step, JSON metrics, time), touch
    the heartbeat."""
    row = execute(_TRIAL_STATE, {"id": trial_id}).fetchone()
    if row is None:
        raise StorageError(f"no trial with id {trial_id}")
    state, number = row
    if state != "RUNNING":
        raise reports_refused(int(number), state)
    _upsert_reports(execute, trial_id, rows)
    execute(_TOUCH_TRIAL, {"id": trial_id, "now": now})
    return StoredReport(int(number))


def _upsert_reports(
    execute: Execute, trial_id: int, rows: Sequence[tuple[int, str, float]]
) -> None:
    params = [
        {"id": trial_id, "step": step, "metrics": payload, "now": at} for step, payload, at in rows
    ]
    execute(_UPSERT_REPORT, params[0] if len(params) == 1 else params)  # a list: executemany


def _driver_execute(dbapi: Any, stmt: sa.TextClause, params: Any) -> Any:
    if isinstance(params, list):
        return dbapi.executemany(stmt.text, params)
    return dbapi.execute(stmt.text, params)


def _finish_trial(
    execute: Execute,
    trial_id: int,
    state: TrialState,
    values: str | None,
    error: str | None,
    now: float,
) -> None:
    """Move a RUNNING or QUEUED trial to its final ``state`` (else say what it is)."""
    params = {"id": trial_id, "state": state.value, "values": values, "error": error}
    res = execute(_FINISH_TRIAL, {**params, "now": now})
    if res.rowcount != 1:
        cur = execute(_TRIAL_STATE, {"id": trial_id}).fetchone()
        if cur is None:
            raise StorageError(f"no trial with id {trial_id}")
        raise end_refused(int(cur[1]), cur[0], state)


def _read_trial(execute: Execute, trial_id: int, url: str, with_reports: bool) -> TrialRecord:
    row = execute(_TRIAL_ROW, {"id": trial_id}).fetchone()
    if row is None:
        raise StorageError(f"no trial with id {trial_id} in {mask_url(url)}")
    reports: list[Report] = []
    if with_reports:
        reports = [
            Report(r[0], json.loads(r[1]), r[2])
            for r in execute(_TRIAL_REPORTS, {"id": trial_id}).fetchall()
        ]
    return _to_record(dict(zip(_TRIAL_COLUMNS, row, strict=True)), reports)


_quote = json.encoder.encode_basestring_ascii  # the C quoting json.dumps uses
_ENCODER = json.JSONEncoder(
    sort_keys=True
)  # one encoder: json.dumps(..., sort_keys=True) builds one a call


def _dumps(obj: Any) -> str:
    return _ENCODER.encode(obj)


def prepared(
    store: SQLStorage, fn: Callable[[Execute], T], *, write: bool, timeout: float | None = None
) -> T:
    """``fn(execute)`` in one transaction of prepared statements: the hot path of
    every integration (reports each epoch, each trial's end). On SQLite it goes
    straight through the driver, on a connection each thread keeps (a quarter of
    SQLAlchemy's cost); elsewhere through SQLAlchemy."""
    if store.dialect != "sqlite" or store.read_only:

        def txn(conn: Connection) -> T:
            return fn(conn.execute)

        return store._write(txn, timeout=timeout) if write else store._read(txn, timeout=timeout)

    def once() -> T:
        dbapi = _report_connection(store)
        try:
            dbapi.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            out = fn(lambda stmt, params: _driver_execute(dbapi, stmt, params))
            dbapi.execute("COMMIT")
            return out
        finally:
            if dbapi.in_transaction:  # an error, or a COMMIT that found the file busy
                dbapi.execute("ROLLBACK")

    return store._retry(once, (sqlite3.OperationalError, DBAPIError), timeout, "writing")


def _report_connection(store: SQLStorage) -> Any:
    """This thread's own driver connection for reports (a new one after a fork)."""
    local = store._report_local
    if getattr(local, "pid", None) != os.getpid():
        local.raw = store._engine.raw_connection()  # checked out for the thread's life
        local.pid = os.getpid()
    return local.raw.driver_connection
