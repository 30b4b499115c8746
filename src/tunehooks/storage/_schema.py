"""The database schema (tables, version) and the checks made when a database is opened."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DatabaseError

from tunehooks.storage._engines import sqlite_path
from tunehooks.storage._retry import StorageUnavailableError, describe
from tunehooks.storage.base import SchemaVersionError, StorageError
from tunehooks.trial import Report, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunehooks.storage.sql import SQLStorage

__all__ = [
    "SCHEMA_VERSION",
    "check_schema",
    "init_schema",
    "open_problem",
    "read_only_folder",
]

SCHEMA_VERSION = 2  # each version is an alembic revision in storage/migrations/
_UPGRADE_HINT = (
    "run `tunehooks storage upgrade --storage URL` (older schema) or install the "
    "tunehooks that wrote it (newer schema)"
)
_OPEN_TIMEOUT = 5.0  # an unreachable database at open is an error soon: it may be a wrong URL

_metadata = sa.MetaData()
_meta = sa.Table(
    "tunehooks_meta",
    _metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
_experiments = sa.Table(
    "experiments",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(256), nullable=False, unique=True),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
_trials = sa.Table(
    "trials",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "experiment_id",
        sa.Integer,
        sa.ForeignKey("experiments.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("fidelity", sa.Float, nullable=True),
    sa.Column("metric_values", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("worker_id", sa.String(256), nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False, default=0),
    sa.Column("retry_of", sa.Integer, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("heartbeat_at", sa.Float, nullable=True),
    sa.UniqueConstraint("experiment_id", "number", name="uq_trial_number"),
    sa.Index("ix_trials_experiment_state", "experiment_id", "state"),
)
_reports = sa.Table(
    "reports",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "trial_id", sa.Integer, sa.ForeignKey("trials.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("trial_id", "step", name="uq_report_step"),
    sa.Index("ix_reports_created_at", "created_at"),  # schema version 2
)

_TRIAL_COLUMNS = tuple(c.name for c in _trials.columns)
_ID = _TRIAL_COLUMNS.index("id")
_CREATED_AT = _TRIAL_COLUMNS.index("created_at")


def _to_record(m: Any, reports: Sequence[Report]) -> TrialRecord:
    values = json.loads(m["metric_values"]) if m["metric_values"] else {}
    return TrialRecord(
        id=int(m["id"]),
        number=int(m["number"]),
        state=TrialState(m["state"]),
        params=json.loads(m["params"]),
        fidelity=m["fidelity"],
        values=values,
        reports=tuple(reports),
        error=m["error"],
        worker_id=m["worker_id"],
        created_at=m["created_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        heartbeat_at=m["heartbeat_at"],
        attempt=int(m["attempt"] or 0),
    )


def init_schema(store: SQLStorage) -> None:
    """Create the tables (once) and check the schema version of a database opened to write."""

    def create(conn: Connection) -> None:
        if store.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7134529)"))
        _metadata.create_all(conn, checkfirst=True)
        row = conn.execute(sa.select(_meta.c.value).where(_meta.c.key == "schema_version")).first()
        if row is None:
            conn.execute(_meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        elif int(row[0]) != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"storage {store.shown_url}: database schema version {row[0]}, this tunehooks "
                f"reads version {SCHEMA_VERSION}; " + _UPGRADE_HINT
            )

    path = sqlite_path(sa.make_url(store.url)) if store.dialect == "sqlite" else None
    if path is not None and os.path.exists(path) and not os.access(path, os.W_OK):
        raise StorageError(open_problem(store, StorageError("not writable")))  # at once
    try:
        store._write(create, timeout=min(_OPEN_TIMEOUT, store.retry_timeout))
    except SchemaVersionError:
        raise
    except (DatabaseError, StorageUnavailableError) as e:
        raise StorageError(open_problem(store, e)) from None


def read_only_folder(store: SQLStorage) -> bool:
    """Whether this is a SQLite file whose folder (or the file) cannot be written."""
    path = sqlite_path(sa.make_url(store.url)) if store.dialect == "sqlite" else None
    if path is None:
        return False
    folder = os.path.dirname(os.path.abspath(path))
    return not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK))


def open_problem(store: SQLStorage, e: Exception, *, reading: bool = False) -> str:
    """One line on why the database cannot be opened (for writing unless ``reading``)."""
    cause = e.cause if isinstance(e, StorageUnavailableError) else describe(e)
    path = sqlite_path(sa.make_url(store.url)) if store.dialect == "sqlite" else None
    if path is not None:
        readonly = read_only_folder(store)
        if readonly and reading:
            return (
                f"storage {store.shown_url}: the database's folder is read-only ({cause}); "
                "SQLite needs to write its lock and journal files next to the database "
                "even to read it: copy the database to a writable folder"
            )
        if readonly:
            return (
                f"storage {store.shown_url}: the database file or its folder is read-only "
                f"({cause}); tunehooks writes its journal and lock files next to it: copy "
                "the database to a writable folder"
            )
        return f"storage {store.shown_url}: cannot open the database ({cause})"
    return (
        f"storage {store.shown_url}: cannot open the database ({cause}); is it a "
        "tunehooks database and is the server reachable?"
    )


def check_schema(store: SQLStorage) -> None:
    """A read-only storage only checks that the database is one this code reads."""

    def read(conn: Connection) -> Any:
        return conn.execute(
            sa.text("SELECT value FROM tunehooks_meta WHERE key = 'schema_version'")
        ).first()

    try:  # an unreachable database at open is an error soon, as for a writer
        try:
            row = store._read(read, timeout=0.0)
        except StorageUnavailableError:
            if read_only_folder(store):  # a read-only folder does not come back
                raise
            row = store._read(read, timeout=min(_OPEN_TIMEOUT, store.retry_timeout))
    except StorageUnavailableError as e:
        raise StorageError(open_problem(store, e, reading=True)) from None
    except sa.exc.DatabaseError as e:
        raise StorageError(
            f"storage {store.shown_url}: not a readable tunehooks database ({e.orig})"
        ) from None
    if row is None or int(row[0]) != SCHEMA_VERSION:
        raise StorageError(
            f"storage {store.shown_url}: database schema version {row and row[0]}, this "
            f"tunehooks reads version {SCHEMA_VERSION}; " + _UPGRADE_HINT
        )
