"""The queries the SQL backend's transactions are made of (decoding rows included)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tunehooks.storage._fastpath import Execute, _dumps
from tunehooks.storage._records import as_columns, claimed, new_trial, resumed
from tunehooks.storage._schema import (
    _CREATED_AT,
    _ID,
    _TRIAL_COLUMNS,
    _experiments,
    _to_record,
    _trials,
)
from tunehooks.trial import Report, Suggestion, TrialRecord, TrialState

__all__ = ["load_trials"]

_IN_LIST_LIMIT = 500  # running trials whose reports are read by id; more: one join


def _resume(
    conn: Connection, suggestion: Suggestion, now: float, worker_id: str | None
) -> int | None:
    """PAUSED -> RUNNING for the trial ``suggestion.resume`` (its new resource to train to);
    ``None`` when it is no longer PAUSED (another worker resumed it)."""
    trial_id = suggestion.resume
    res = conn.execute(
        _trials.update()
        .where(_trials.c.id == trial_id, _trials.c.state == "PAUSED")
        .values(**as_columns(resumed(suggestion, now=now, worker_id=worker_id), _dumps))
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
        .values(**as_columns(claimed(now=now, worker_id=worker_id), _dumps))
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
    fields = new_trial(suggestion, now=now, worker_id=worker_id)
    res = conn.execute(
        _trials.insert().values(
            experiment_id=experiment_id, number=number, **as_columns(fields, _dumps)
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


def load_trials(
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


def _row_record(row: Sequence[Any], reports: Sequence[Report] = ()) -> TrialRecord:
    return _to_record(dict(zip(_TRIAL_COLUMNS, row, strict=True)), reports)


def _without_reports(record: TrialRecord) -> TrialRecord:
    return dataclasses.replace(record, reports=())
