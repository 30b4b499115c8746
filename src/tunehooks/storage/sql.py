"""SQLAlchemy storage: SQLite (default, one machine) and PostgreSQL (many machines).

Every write is one short transaction. On SQLite, write transactions start with
``BEGIN IMMEDIATE`` (the database's write lock is taken up front, so two
writers never deadlock on a lock upgrade), the journal is in WAL mode (readers
never block writers) and "database is locked" errors are retried with jittered
backoff. On PostgreSQL the ask locks the experiment's row (``SELECT ... FOR
UPDATE``), so two workers never start the same trial.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, DBAPIError, IntegrityError
from sqlalchemy.pool import StaticPool

from tunehooks._urls import mask_url
from tunehooks.storage._retry import (
    DEFAULT_RETRY_TIMEOUT,
    StorageUnavailableError,
    describe,
    retry,
)
from tunehooks.storage.base import (
    DuplicateExperimentError,
    ExperimentNotFoundError,
    ProposeFn,
    SchemaVersionError,
    Started,
    StorageError,
    StoredReport,
)
from tunehooks.trial import Report, Suggestion, TrialRecord, TrialState, TrialStateError

__all__ = ["SCHEMA_VERSION", "SQLStorage"]

SCHEMA_VERSION = 2  # each version is an alembic revision in storage/migrations/
_UPGRADE_HINT = (
    "run `tunehooks storage upgrade --storage URL` (older schema) or install the "
    "tunehooks that wrote it (newer schema)"
)
_OPEN_TIMEOUT = 5.0  # an unreachable database at open is an error soon: it may be a wrong URL
_IN_LIST_LIMIT = 500  # running trials whose reports are read by id; more: one join
T = TypeVar("T")

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


# The hot path's statements (every epoch's reports, every trial's end), prepared once:
# the same SQL on SQLite and PostgreSQL, run through SQLAlchemy or the SQLite driver.
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
_TRIAL_COLUMNS = tuple(c.name for c in _trials.columns)
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
        raise TrialStateError(f"trial {number} is {state}; it accepts no more reports")
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
        raise TrialStateError(f"trial {cur[1]} is already {cur[0]}; it cannot become {state.value}")


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


def _sqlite_path(url: sa.URL) -> str | None:
    db = url.database
    return None if not db or db == ":memory:" else db


def _sqlite_readonly_engine(parsed: sa.URL, url: str) -> Engine:
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


class SQLStorage:
    """Storage on SQLite or PostgreSQL through SQLAlchemy 2.

    Example:
        >>> s = SQLStorage("sqlite://")            # in memory
        >>> exp_id = s.create_experiment("demo", {"any": "json"})
        >>> s.get_experiment("demo")[1]
        {'any': 'json'}
    """

    def __init__(self, url: str, *, echo: bool = False, read_only: bool = False) -> None:
        self.url = url
        self.shown_url = mask_url(url)
        """``url`` with its password hidden: what messages show."""
        self.retry_timeout = DEFAULT_RETRY_TIMEOUT
        """Seconds an operation is retried while the database is unavailable (a server
        restart, a full disk) before :class:`StorageUnavailableError` is raised."""
        self.read_only = bool(read_only)
        try:
            parsed = sa.make_url(url)
        except Exception as e:
            raise StorageError(
                f"storage: cannot parse URL {mask_url(url)!r} ({e}); use sqlite:///path.db or "
                "postgresql://user@host/db"
            ) from None
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if self.read_only:
                self._engine = _sqlite_readonly_engine(parsed, url)
            else:
                self._engine = self._sqlite_engine(parsed, echo)
        elif self.dialect == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            try:
                engine = sa.create_engine(
                    parsed,
                    echo=echo,
                    pool_pre_ping=True,
                    pool_size=1 if self.read_only else 2,
                    max_overflow=4,
                    pool_recycle=600,
                )
            except ModuleNotFoundError:
                raise StorageError(
                    'storage: PostgreSQL needs psycopg: pip install "tunehooks[postgres]"'
                ) from None
            self._engine = (
                engine.execution_options(postgresql_readonly=True) if self.read_only else engine
            )
        else:
            raise StorageError(
                f"storage: unsupported database {self.dialect!r} in {mask_url(url)!r}; "
                "use sqlite:///path.db or postgresql://user@host/db"
            )
        self._write_engine = self._engine.execution_options(tunehooks_write=True)
        self._finished: dict[tuple[int, float], TrialRecord] = {}
        self._report_local = threading.local()
        if self.read_only:
            self._check_schema()
        else:
            self._init_schema()

    # -- engine ------------------------------------------------------------------------
    @staticmethod
    def _sqlite_engine(url: sa.URL, echo: bool) -> Engine:
        path = _sqlite_path(url)
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

    def _init_schema(self) -> None:
        def create(conn: Connection) -> None:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7134529)"))
            _metadata.create_all(conn, checkfirst=True)
            row = conn.execute(
                sa.select(_meta.c.value).where(_meta.c.key == "schema_version")
            ).first()
            if row is None:
                conn.execute(_meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif int(row[0]) != SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"storage {self.shown_url}: database schema version {row[0]}, this tunehooks "
                    f"reads version {SCHEMA_VERSION}; " + _UPGRADE_HINT
                )

        path = _sqlite_path(sa.make_url(self.url)) if self.dialect == "sqlite" else None
        if path is not None and os.path.exists(path) and not os.access(path, os.W_OK):
            raise StorageError(self._open_problem(StorageError("not writable")))  # at once
        try:
            self._write(create, timeout=min(_OPEN_TIMEOUT, self.retry_timeout))
        except SchemaVersionError:
            raise
        except (DatabaseError, StorageUnavailableError) as e:
            raise StorageError(self._open_problem(e)) from None

    def _read_only_folder(self) -> bool:
        """Whether this is a SQLite file whose folder (or the file) cannot be written."""
        path = _sqlite_path(sa.make_url(self.url)) if self.dialect == "sqlite" else None
        if path is None:
            return False
        folder = os.path.dirname(os.path.abspath(path))
        return not os.access(folder, os.W_OK) or (
            os.path.exists(path) and not os.access(path, os.W_OK)
        )

    def _open_problem(self, e: Exception, *, reading: bool = False) -> str:
        """One line on why the database cannot be opened (for writing unless ``reading``)."""
        cause = e.cause if isinstance(e, StorageUnavailableError) else describe(e)
        path = _sqlite_path(sa.make_url(self.url)) if self.dialect == "sqlite" else None
        if path is not None:
            readonly = self._read_only_folder()
            if readonly and reading:
                return (
                    f"storage {self.shown_url}: the database's folder is read-only ({cause}); "
                    "SQLite needs to write its lock and journal files next to the database "
                    "even to read it: copy the database to a writable folder"
                )
            if readonly:
                return (
                    f"storage {self.shown_url}: the database file or its folder is read-only "
                    f"({cause}); tunehooks writes its journal and lock files next to it: copy "
                    "the database to a writable folder"
                )
            return f"storage {self.shown_url}: cannot open the database ({cause})"
        return (
            f"storage {self.shown_url}: cannot open the database ({cause}); is it a "
            "tunehooks database and is the server reachable?"
        )

    def _check_schema(self) -> None:
        """A read-only storage only checks that the database is one this code reads."""

        def read(conn: Connection) -> Any:
            return conn.execute(
                sa.text("SELECT value FROM tunehooks_meta WHERE key = 'schema_version'")
            ).first()

        try:  # an unreachable database at open is an error soon, as for a writer
            try:
                row = self._read(read, timeout=0.0)
            except StorageUnavailableError:
                if self._read_only_folder():  # a read-only folder does not come back
                    raise
                row = self._read(read, timeout=min(_OPEN_TIMEOUT, self.retry_timeout))
        except StorageUnavailableError as e:
            raise StorageError(self._open_problem(e, reading=True)) from None
        except sa.exc.DatabaseError as e:
            raise StorageError(
                f"storage {self.shown_url}: not a readable tunehooks database ({e.orig})"
            ) from None
        if row is None or int(row[0]) != SCHEMA_VERSION:
            raise StorageError(
                f"storage {self.shown_url}: database schema version {row and row[0]}, this "
                f"tunehooks reads version {SCHEMA_VERSION}; " + _UPGRADE_HINT
            )

    def _write(self, fn: Callable[[Connection], T], *, timeout: float | None = None) -> T:
        """Run ``fn`` in one write transaction, retrying transient errors (a lock, an
        unavailable database) for ``timeout`` seconds (default: ``retry_timeout``)."""
        if self.read_only:
            raise StorageError(
                f"storage {self.shown_url} is open read-only (for analysis); nothing written"
            )

        def once() -> T:
            with self._write_engine.connect() as conn, conn.begin():
                return fn(conn)

        return self._retry(once, DBAPIError, timeout, "writing")

    def _read(self, fn: Callable[[Connection], T], *, timeout: float | None = None) -> T:
        def once() -> T:
            with self._engine.connect() as conn, conn.begin():
                return fn(conn)

        return self._retry(once, DBAPIError, timeout, "reading")

    def _retry(
        self,
        once: Callable[[], T],
        errors: type[BaseException] | tuple[type[BaseException], ...],
        timeout: float | None,
        what: str,
    ) -> T:
        limit = self.retry_timeout if timeout is None else timeout
        return retry(once, errors, timeout=limit, what=f"storage {self.shown_url}: {what}")

    def close(self) -> None:
        raw = getattr(self._report_local, "raw", None)
        if raw is not None and self._report_local.pid == os.getpid():
            raw.close()  # back to the pool, then disposed with it
            self._report_local = threading.local()
        self._engine.dispose()

    # -- experiments ----------------------------------------------------------------------
    def create_experiment(self, name: str, config: Mapping[str, Any]) -> int:
        def txn(conn: Connection) -> int:
            res = conn.execute(
                _experiments.insert().values(
                    name=name, config=_dumps(config), created_at=time.time()
                )
            )
            return int(res.inserted_primary_key[0])  # type: ignore[index]

        try:
            return self._write(txn)
        except IntegrityError:
            raise DuplicateExperimentError(
                f"experiment {name!r} already exists in {self.shown_url}; load it with "
                "Experiment.load(name) or pass load_if_exists=True"
            ) from None

    def update_experiment_config(self, experiment_id: int, config: Mapping[str, Any]) -> None:
        """Replace an experiment's stored configuration (e.g. a grown budget)."""

        def txn(conn: Connection) -> None:
            res = conn.execute(
                _experiments.update()
                .where(_experiments.c.id == experiment_id)
                .values(config=_dumps(config))
            )
            if res.rowcount == 0:
                raise ExperimentNotFoundError(
                    f"no experiment with id {experiment_id} in {self.shown_url}"
                )

        self._write(txn)

    def get_experiment(self, name: str) -> tuple[int, dict[str, Any]]:
        row = self._read(
            lambda c: c.execute(
                sa.select(_experiments.c.id, _experiments.c.config).where(
                    _experiments.c.name == name
                )
            ).first()
        )
        if row is None:
            known = self.list_experiments()
            raise ExperimentNotFoundError(
                f"no experiment {name!r} in {self.shown_url}; known: {known or 'none'}"
            )
        return int(row[0]), json.loads(row[1])

    def list_experiments(self) -> list[str]:
        rows = self._read(
            lambda c: c.execute(sa.select(_experiments.c.name).order_by(_experiments.c.id)).all()
        )
        return [r[0] for r in rows]

    def delete_experiment(self, name: str) -> None:
        exp_id, _ = self.get_experiment(name)

        def txn(conn: Connection) -> None:
            ids = sa.select(_trials.c.id).where(_trials.c.experiment_id == exp_id)
            conn.execute(_reports.delete().where(_reports.c.trial_id.in_(ids)))
            conn.execute(_trials.delete().where(_trials.c.experiment_id == exp_id))
            conn.execute(_experiments.delete().where(_experiments.c.id == exp_id))

        self._write(txn)

    def rename_experiment(self, old: str, new: str) -> None:
        """Give experiment ``old`` the name ``new`` (its trials and reports follow)."""

        def txn(conn: Connection) -> None:
            res = conn.execute(
                _experiments.update().where(_experiments.c.name == old).values(name=new)
            )
            if res.rowcount == 0:
                raise ExperimentNotFoundError(f"no experiment {old!r} in {self.url}")

        try:
            self._write(txn)
        except IntegrityError:
            raise DuplicateExperimentError(
                f"experiment {new!r} already exists in {self.url}; pick another name"
            ) from None

    # -- trials ---------------------------------------------------------------------------
    # the three primitives tunehooks.asking.ask starts trials with
    def claim_queued(
        self, experiment_id: int, *, worker_id: str | None = None
    ) -> TrialRecord | None:
        def txn(conn: Connection) -> int | None:
            _lock_experiment(conn, experiment_id)
            return _claim_queued(conn, experiment_id, time.time(), worker_id)

        claimed = self._write(txn)
        return None if claimed is None else self.get_trial(claimed)

    def start_if_unchanged(
        self,
        experiment_id: int,
        suggestion: Suggestion | None,
        *,
        last_number: int,
        worker_id: str | None = None,
    ) -> Started:
        def txn(conn: Connection) -> int | bool | None:
            _lock_experiment(conn, experiment_id)
            if _max_number(conn, experiment_id) != last_number:
                return False
            if suggestion is None:
                return None
            now = time.time()
            if suggestion.resume is not None:
                resumed = _resume(conn, suggestion, now, worker_id)
                return False if resumed is None else resumed  # resumed elsewhere meanwhile
            return _insert_running(conn, experiment_id, last_number + 1, suggestion, now, worker_id)

        out = self._write(txn)
        if out is False:
            return Started(changed=True)
        return Started(False, None if out is None else self.get_trial(int(out)))

    def start_locked(
        self, experiment_id: int, propose: ProposeFn, *, worker_id: str | None = None
    ) -> TrialRecord | None:
        def txn(conn: Connection) -> int | None:
            _lock_experiment(conn, experiment_id)
            now = time.time()
            queued = _claim_queued(conn, experiment_id, now, worker_id)
            if queued is not None:
                return queued
            history = _load_trials(
                conn.execute, experiment_id, None, with_reports=True, finished=self._finished
            )
            suggestion = propose(history)
            if suggestion is None:
                return None
            if suggestion.resume is not None:
                return _resume(conn, suggestion, now, worker_id)  # inside the lock: holds
            last = max((t.number for t in history), default=-1)
            return _insert_running(conn, experiment_id, last + 1, suggestion, now, worker_id)

        started = self._write(txn)
        return None if started is None else self.get_trial(started)

    def enqueue(
        self, experiment_id: int, params: Mapping[str, Any], fidelity: float | None = None
    ) -> TrialRecord:
        return self._insert_queued(
            experiment_id, Suggestion(params, fidelity), attempt=0, retry_of=None
        )

    def _insert_queued(
        self, experiment_id: int, suggestion: Suggestion, *, attempt: int, retry_of: int | None
    ) -> TrialRecord:
        def txn(conn: Connection) -> int:
            conn.execute(
                sa.select(_experiments.c.id)
                .where(_experiments.c.id == experiment_id)
                .with_for_update()
            )
            number = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(_trials.c.number), -1)).where(
                    _trials.c.experiment_id == experiment_id
                )
            ).scalar_one()
            res = conn.execute(
                _trials.insert().values(
                    experiment_id=experiment_id,
                    number=int(number) + 1,
                    state="QUEUED",
                    params=_dumps(dict(suggestion.params)),
                    fidelity=suggestion.fidelity,
                    attempt=attempt,
                    retry_of=retry_of,
                    created_at=time.time(),
                )
            )
            return int(res.inserted_primary_key[0])  # type: ignore[index]

        return self.get_trial(self._write(txn))

    def add_report(self, trial_id: int, step: int, metrics: Mapping[str, float]) -> StoredReport:
        return self.add_reports(trial_id, [Report(step, metrics)])

    def add_reports(
        self, trial_id: int, reports: Sequence[Report], *, retry_for: float | None = None
    ) -> StoredReport:
        """Store reports (``retry_for``: seconds to retry an unavailable database, default
        ``retry_timeout``; the report path passes a short one and keeps the reports)."""
        if not reports:
            raise ValueError("add_reports needs at least one Report")
        now = time.time()
        rows = _report_rows(reports, now)
        return self._prepared(
            lambda ex: _store_reports(ex, trial_id, rows, now), write=True, timeout=retry_for
        )

    def _prepared(
        self, fn: Callable[[Execute], T], *, write: bool, timeout: float | None = None
    ) -> T:
        """``fn(execute)`` in one transaction of prepared statements: the hot path of
        every integration (reports each epoch, each trial's end). On SQLite it goes
        straight through the driver, on a connection each thread keeps (a quarter of
        SQLAlchemy's cost); elsewhere through SQLAlchemy."""
        if self.dialect != "sqlite" or self.read_only:

            def txn(conn: Connection) -> T:
                return fn(conn.execute)

            return self._write(txn, timeout=timeout) if write else self._read(txn, timeout=timeout)

        def once() -> T:
            dbapi = self._report_connection()
            try:
                dbapi.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                out = fn(lambda stmt, params: _driver_execute(dbapi, stmt, params))
                dbapi.execute("COMMIT")
                return out
            finally:
                if dbapi.in_transaction:  # an error, or a COMMIT that found the file busy
                    dbapi.execute("ROLLBACK")

        return self._retry(once, (sqlite3.OperationalError, DBAPIError), timeout, "writing")

    def _report_connection(self) -> Any:
        """This thread's own driver connection for reports (a new one after a fork)."""
        local = self._report_local
        if getattr(local, "pid", None) != os.getpid():
            local.raw = self._engine.raw_connection()  # checked out for the thread's life
            local.pid = os.getpid()
        return local.raw.driver_connection

    def finish(
        self,
        trial_id: int,
        state: TrialState,
        values: Mapping[str, float] | None = None,
        error: str | None = None,
        *,
        reports: Sequence[Report] = (),
        known: TrialRecord | None = None,
    ) -> TrialRecord:
        if not state.is_stopped:
            raise ValueError(
                f"finish needs COMPLETED, PRUNED, FAILED or PAUSED (got {state.value})"
            )
        payload = None if values is None else _dumps(dict(values))
        now = time.time()
        rows = _report_rows(reports, now)

        def txn(execute: Execute) -> TrialRecord | None:
            if rows:  # the last reports and the end in one transaction: both or neither
                _upsert_reports(execute, trial_id, rows)
            _finish_trial(execute, trial_id, state, payload, error, now)
            return (
                None if known is not None else _read_trial(execute, trial_id, self.shown_url, True)
            )

        stored = self._prepared(txn, write=True)
        if stored is not None:
            return stored
        assert known is not None
        return dataclasses.replace(
            known, state=state, values=dict(values or {}), error=error, finished_at=now
        )

    def requeue(self, trial_id: int, *, error: str | None = None) -> TrialRecord:
        """Queue a new attempt of a trial with the same params; a RUNNING original is
        marked FAILED with ``error``. The original and its reports are kept."""
        old = self.get_trial(trial_id, with_reports=False)
        if old.state is TrialState.RUNNING:
            with contextlib.suppress(TrialStateError):
                self.finish(trial_id, TrialState.FAILED, error=error or "requeued")
        exp_id = self.experiment_of(trial_id)
        return self._insert_queued(
            exp_id, Suggestion(old.params, old.fidelity), attempt=old.attempt + 1, retry_of=trial_id
        )

    def experiment_of(self, trial_id: int) -> int:
        return int(
            self._read(
                lambda c: c.execute(
                    sa.select(_trials.c.experiment_id).where(_trials.c.id == trial_id)
                ).scalar_one()
            )
        )

    _experiment_of = experiment_of  # the old private name (other modules used it)

    def heartbeat(self, trial_ids: Sequence[int]) -> None:
        if not trial_ids:
            return
        now = time.time()
        self._write(
            lambda c: c.execute(
                _trials.update()
                .where(_trials.c.id.in_(list(trial_ids)), _trials.c.state == "RUNNING")
                .values(heartbeat_at=now)
            )
        )

    def stale_trials(self, experiment_id: int, older_than: float) -> list[TrialRecord]:
        """RUNNING trials whose last heartbeat is more than ``older_than`` seconds old."""
        cutoff = time.time() - older_than
        return [
            t
            for t in self.get_trials(experiment_id, states=[TrialState.RUNNING], with_reports=False)
            if (t.heartbeat_at or t.started_at or 0.0) < cutoff
        ]

    def get_trial(self, trial_id: int, *, with_reports: bool = True) -> TrialRecord:
        return self._prepared(
            lambda ex: _read_trial(ex, trial_id, self.shown_url, with_reports), write=False
        )

    def get_trials(
        self,
        experiment_id: int,
        *,
        states: Sequence[TrialState] | None = None,
        with_reports: bool = True,
    ) -> list[TrialRecord]:
        return self._prepared(
            lambda ex: _load_trials(
                ex, experiment_id, states, with_reports=with_reports, finished=self._finished
            ),
            write=False,
        )

    def count_trials(self, experiment_id: int) -> dict[TrialState, int]:
        rows = self._read(
            lambda c: c.execute(
                sa.select(_trials.c.state, sa.func.count())
                .where(_trials.c.experiment_id == experiment_id)
                .group_by(_trials.c.state)
            ).all()
        )
        counts = dict.fromkeys(TrialState, 0)
        for state, n in rows:
            counts[TrialState(state)] = int(n)
        return counts


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


def _resume(
    conn: Connection, suggestion: Suggestion, now: float, worker_id: str | None
) -> int | None:
    """PAUSED -> RUNNING for the trial ``suggestion.resume`` (its new resource to train to);
    ``None`` when it is no longer PAUSED (another worker resumed it)."""
    trial_id = suggestion.resume
    res = conn.execute(
        _trials.update()
        .where(_trials.c.id == trial_id, _trials.c.state == "PAUSED")
        .values(
            state="RUNNING",
            fidelity=suggestion.fidelity,
            finished_at=None,
            heartbeat_at=now,
            worker_id=worker_id,
        )
    )
    return None if res.rowcount != 1 else int(trial_id)  # type: ignore[arg-type]


def _lock_experiment(conn: Connection, experiment_id: int) -> None:
    """Take the experiment's write lock (its row, on PostgreSQL; SQLite's ``BEGIN
    IMMEDIATE`` already holds the database's)."""
    conn.execute(
        sa.select(_experiments.c.id).where(_experiments.c.id == experiment_id).with_for_update()
    )


def _claim_queued(
    conn: Connection, experiment_id: int, now: float, worker_id: str | None
) -> int | None:
    queued = conn.execute(
        sa.select(_trials.c.id)
        .where(_trials.c.experiment_id == experiment_id, _trials.c.state == "QUEUED")
        .order_by(_trials.c.number)
        .limit(1)
    ).first()
    if queued is None:
        return None
    conn.execute(
        _trials.update()
        .where(_trials.c.id == queued[0])
        .values(state="RUNNING", started_at=now, heartbeat_at=now, worker_id=worker_id)
    )
    return int(queued[0])


def _insert_running(
    conn: Connection,
    experiment_id: int,
    number: int,
    suggestion: Suggestion,
    now: float,
    worker_id: str | None,
) -> int:
    res = conn.execute(
        _trials.insert().values(
            experiment_id=experiment_id,
            number=number,
            state="RUNNING",
            params=_dumps(dict(suggestion.params)),
            fidelity=suggestion.fidelity,
            attempt=0,
            created_at=now,
            started_at=now,
            heartbeat_at=now,
            worker_id=worker_id,
        )
    )
    return int(res.inserted_primary_key[0])  # type: ignore[index]


def _max_number(conn: Connection, experiment_id: int) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(_trials.c.number), -1)).where(
                _trials.c.experiment_id == experiment_id
            )
        ).scalar_one()
    )


def _load_trials(
    execute: Execute,
    experiment_id: int,
    states: Sequence[TrialState] | None,
    *,
    with_reports: bool,
    finished: dict[tuple[int, float], TrialRecord] | None = None,
) -> list[TrialRecord]:
    """The experiment's trials in number order, with their reports when asked.

    ``finished`` caches finished trials with their reports (keyed by id and
    creation time): a finished trial never changes, so only the running trials
    are decoded and their reports read again. Schedulers and optimizers reload
    the history at every decision; the cache keeps that linear in the running
    trials.
    """
    where = "experiment_id = :e"
    if states is not None:  # enum values, never user text
        where += " AND state IN (" + ", ".join(f"'{TrialState(x).value}'" for x in states) + ")"
    rows = execute(
        sa.text(f"SELECT {', '.join(_TRIAL_COLUMNS)} FROM trials WHERE {where} ORDER BY number"),
        {"e": experiment_id},
    ).fetchall()
    cache = {} if finished is None else finished
    known: dict[int, TrialRecord] = {}
    for r in rows:
        hit = cache.get((r[_ID], r[_CREATED_AT]))
        if hit is not None:
            known[r[_ID]] = hit
    if not with_reports:
        return [
            _without_reports(known[r[_ID]]) if r[_ID] in known else _row_record(r) for r in rows
        ]
    missing = [int(r[_ID]) for r in rows if r[_ID] not in known]
    by_trial: dict[int, list[Report]] = {}
    if missing:
        if len(missing) <= _IN_LIST_LIMIT:  # ids are integers read just above
            which = "trial_id IN (" + ", ".join(str(i) for i in missing) + ")"
        else:
            which = "trial_id IN (SELECT id FROM trials WHERE experiment_id = :e)"
        rep_query = sa.text(
            f"SELECT trial_id, step, metrics, created_at FROM reports WHERE {which} "
            "ORDER BY trial_id, step"
        )
        wanted = set(missing)
        for tid, step, metrics, created in execute(rep_query, {"e": experiment_id}).fetchall():
            if int(tid) in wanted:
                by_trial.setdefault(int(tid), []).append(
                    Report(int(step), json.loads(metrics), created)
                )
    out = []
    for r in rows:
        rec = known.get(r[_ID])
        if rec is None:
            rec = _row_record(r, tuple(by_trial.get(int(r[_ID]), ())))
            if rec.state.is_finished:
                cache[(r[_ID], r[_CREATED_AT])] = rec
        out.append(rec)
    return out


_ID = _TRIAL_COLUMNS.index("id")
_CREATED_AT = _TRIAL_COLUMNS.index("created_at")


def _row_record(row: Sequence[Any], reports: Sequence[Report] = ()) -> TrialRecord:
    return _to_record(dict(zip(_TRIAL_COLUMNS, row, strict=True)), reports)


def _without_reports(record: TrialRecord) -> TrialRecord:
    return dataclasses.replace(record, reports=())
