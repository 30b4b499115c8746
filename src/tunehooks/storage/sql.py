"""SQLAlchemy storage: SQLite (default, one machine) and PostgreSQL (many machines).

Every write is one short transaction. On SQLite, write transactions start with
``BEGIN IMMEDIATE`` (the database's write lock is taken up front, so two
writers never deadlock on a lock upgrade), the journal is in WAL mode (readers
never block writers) and "database is locked" errors are retried with jittered
backoff. On PostgreSQL the trial-starting primitives lock the experiment's row
(``SELECT ... FOR UPDATE``), so two workers never start the same trial.

The parts: :mod:`~tunehooks.storage._schema` (tables, version, the checks at open),
:mod:`~tunehooks.storage._engines` (SQLite and PostgreSQL engines),
:mod:`~tunehooks.storage._fastpath` (the report and end statements, through the
SQLite driver) and :mod:`~tunehooks.storage._queries` (the other queries).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from tunehooks._urls import mask_url
from tunehooks.storage._engines import postgres_engine, sqlite_engine, sqlite_readonly_engine
from tunehooks.storage._fastpath import (
    Execute,
    _dumps,
    _finish_trial,
    _read_trial,
    _report_rows,
    _store_reports,
    _upsert_reports,
    prepared,
)
from tunehooks.storage._queries import (
    _claim_queued,
    _insert_running,
    _lock_experiment,
    _max_number,
    _resume,
    load_trials,
)
from tunehooks.storage._records import (
    as_columns,
    check_end_state,
    check_reports,
    ended,
    new_trial,
    stale,
)
from tunehooks.storage._retry import DEFAULT_RETRY_TIMEOUT, retry
from tunehooks.storage._schema import (
    SCHEMA_VERSION,
    _experiments,
    _reports,
    _trials,
    check_schema,
    init_schema,
)
from tunehooks.storage.base import (
    DuplicateExperimentError,
    ExperimentNotFoundError,
    ProposeFn,
    Started,
    StorageError,
    StoredReport,
)
from tunehooks.trial import Report, Suggestion, TrialRecord, TrialState, TrialStateError

__all__ = ["SCHEMA_VERSION", "SQLStorage"]

T = TypeVar("T")


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
                self._engine = sqlite_readonly_engine(parsed, url)
            else:
                self._engine = sqlite_engine(parsed, echo)
        elif self.dialect == "postgresql":
            self._engine = postgres_engine(parsed, echo=echo, read_only=self.read_only)
        else:
            raise StorageError(
                f"storage: unsupported database {self.dialect!r} in {mask_url(url)!r}; "
                "use sqlite:///path.db or postgresql://user@host/db"
            )
        self._write_engine = self._engine.execution_options(tunehooks_write=True)
        self._finished: dict[tuple[int, float], TrialRecord] = {}
        self._report_local = threading.local()
        if self.read_only:
            check_schema(self)
        else:
            init_schema(self)

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
            history = load_trials(
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
            fields = new_trial(suggestion, now=time.time(), queued=True, attempt=attempt)
            res = conn.execute(
                _trials.insert().values(
                    experiment_id=experiment_id,
                    number=int(number) + 1,
                    retry_of=retry_of,
                    **as_columns(fields, _dumps),
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
        check_reports(reports)
        now = time.time()
        rows = _report_rows(reports, now)
        return prepared(
            self, lambda ex: _store_reports(ex, trial_id, rows, now), write=True, timeout=retry_for
        )

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
        check_end_state(state)
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

        stored = prepared(self, txn, write=True)
        if stored is not None or known is None:  # read back: no snapshot was given
            return stored if stored is not None else self.get_trial(trial_id)
        return dataclasses.replace(known, **ended(state, values, error, now=now))

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
        running = self.get_trials(experiment_id, states=[TrialState.RUNNING], with_reports=False)
        return stale(running, older_than)

    def get_trial(self, trial_id: int, *, with_reports: bool = True) -> TrialRecord:
        return prepared(
            self, lambda ex: _read_trial(ex, trial_id, self.shown_url, with_reports), write=False
        )

    def get_trials(
        self,
        experiment_id: int,
        *,
        states: Sequence[TrialState] | None = None,
        with_reports: bool = True,
    ) -> list[TrialRecord]:
        return prepared(
            self,
            lambda ex: load_trials(
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
