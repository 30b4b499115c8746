"""What every storage backend writes of a trial, the same way: the fields of a new, a
claimed, a resumed and an ended trial, the checks on its arguments, the stale ones.

The fields are :class:`~tunehooks.trial.TrialRecord`'s (the in-memory backend replaces
them in its record); the SQL backend writes them as columns (:func:`as_columns`).

Example:
    >>> import json
    >>> from tunehooks.trial import Suggestion
    >>> new_trial(Suggestion({"x": 1}), now=5.0, queued=True)["state"]
    <TrialState.QUEUED: 'QUEUED'>
    >>> as_columns(claimed(now=6.0, worker_id="w1"), json.dumps)
    {'state': 'RUNNING', 'started_at': 6.0, 'heartbeat_at': 6.0, 'worker_id': 'w1'}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tunehooks.trial import Report, Suggestion, TrialRecord, TrialState, TrialStateError

__all__ = [
    "as_columns",
    "check_end_state",
    "check_reports",
    "claimed",
    "end_refused",
    "ended",
    "new_trial",
    "reports_refused",
    "resumed",
    "stale",
]


def new_trial(
    suggestion: Suggestion,
    *,
    now: float,
    queued: bool = False,
    worker_id: str | None = None,
    attempt: int = 0,
) -> dict[str, Any]:
    """A new trial: QUEUED (no worker yet) or RUNNING on ``worker_id`` since ``now``."""
    return {
        "state": TrialState.QUEUED if queued else TrialState.RUNNING,
        "params": dict(suggestion.params),
        "fidelity": suggestion.fidelity,
        "worker_id": None if queued else worker_id,
        "created_at": now,
        "started_at": None if queued else now,
        "heartbeat_at": None if queued else now,
        "attempt": attempt,
    }


def claimed(*, now: float, worker_id: str | None) -> dict[str, Any]:
    """A QUEUED trial that ``worker_id`` starts."""
    return {
        "state": TrialState.RUNNING,
        "started_at": now,
        "heartbeat_at": now,
        "worker_id": worker_id,
    }


def resumed(suggestion: Suggestion, *, now: float, worker_id: str | None) -> dict[str, Any]:
    """A PAUSED trial that ``worker_id`` trains on to ``suggestion.fidelity``."""
    return {
        "state": TrialState.RUNNING,
        "fidelity": suggestion.fidelity,
        "finished_at": None,
        "heartbeat_at": now,
        "worker_id": worker_id,
    }


def ended(
    state: TrialState, values: Mapping[str, float] | None, error: str | None, *, now: float
) -> dict[str, Any]:
    """A RUNNING or QUEUED trial's end (``values`` ``None``: none)."""
    return {
        "state": state,
        "values": {} if values is None else dict(values),
        "error": error,
        "finished_at": now,
    }


def as_columns(fields: Mapping[str, Any], dumps: Callable[[Any], str]) -> dict[str, Any]:
    """The SQL columns of the fields: the state's value, JSON params and values (``dumps``;
    the ``values`` field is the ``metric_values`` column)."""
    out = dict(fields)
    if "state" in out:
        out["state"] = TrialState(out["state"]).value
    if "params" in out:
        out["params"] = dumps(out["params"])
    if "values" in out:
        out["metric_values"] = dumps(out.pop("values"))
    return out


def check_end_state(state: TrialState) -> None:
    """``finish`` ends a trial in a stopped state only."""
    if not state.is_stopped:
        raise ValueError(f"finish needs COMPLETED, PRUNED, FAILED or PAUSED (got {state.value})")


def check_reports(reports: Sequence[Report]) -> None:
    """``add_reports`` stores one report at least."""
    if not reports:
        raise ValueError("add_reports needs at least one Report")


def reports_refused(number: int, state: TrialState | str) -> TrialStateError:
    """The error for reports to a trial that is not RUNNING (``state``: what it is)."""
    return TrialStateError(
        f"trial {number} is {TrialState(state).value}; it accepts no more reports"
    )


def end_refused(number: int, state: TrialState | str, new: TrialState) -> TrialStateError:
    """The error for ending a trial that has ended already (as ``state``) as ``new``."""
    return TrialStateError(
        f"trial {number} is already {TrialState(state).value}; it cannot become {new.value}"
    )


def stale(running: Iterable[TrialRecord], older_than: float) -> list[TrialRecord]:
    """The trials whose last heartbeat (else start) is more than ``older_than`` seconds old."""
    cutoff = time.time() - older_than
    return [t for t in running if (t.heartbeat_at or t.started_at or 0.0) < cutoff]
