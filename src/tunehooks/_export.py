"""An experiment's trials as flat rows (CSV, DataFrame) and as JSON with their curves
(``Experiment.to_records`` / ``to_csv`` / ``to_json``)."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

from tunehooks.trial import TrialRecord

__all__ = ["json_trials", "records", "write_csv", "write_json"]


def records(
    trials: Sequence[TrialRecord], cost: Callable[[TrialRecord], float]
) -> list[dict[str, Any]]:
    """One flat dict per trial: number, state, params, final metrics, cost, error.

    Example:
        >>> from tunehooks.trial import TrialState
        >>> t = TrialRecord(id=1, number=0, state=TrialState.COMPLETED, params={"x": 1},
        ...                 values={"y": 2.0})
        >>> records([t], lambda t: 1.0)[0]["param_x"], records([t], lambda t: 1.0)[0]["metric_y"]
        (1, 2.0)
    """
    rows = []
    for t in trials:
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.value,
            "fidelity": t.fidelity,
            "steps": len(t.reports),
            "last_step": t.last_step,
            "cost": cost(t),
            "duration_s": t.duration,
            "worker": t.worker_id,
            "attempt": t.attempt,
        }
        row.update({f"param_{k}": v for k, v in t.params.items()})
        row.update({f"metric_{k}": v for k, v in t.values.items()})
        row["error"] = t.error
        rows.append(row)
    return rows


def write_csv(rows: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> int:
    """Write ``rows`` (the columns of every row, in order of appearance); the number of rows."""
    columns: list[str] = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def _num(v: Any) -> Any:
    return v if not isinstance(v, float) or math.isfinite(v) else None


def json_trials(
    trials: Sequence[TrialRecord], cost: Callable[[TrialRecord], float]
) -> list[dict[str, Any]]:
    """Every trial with its curve (``reports``: ``{"step": ..., <metric>: ...}``), as
    JSON-ready data; non-finite numbers become ``None``."""
    return [
        {
            "number": t.number,
            "state": t.state.value,
            "params": dict(t.params),
            "fidelity": t.fidelity,
            "values": {k: _num(v) for k, v in t.values.items()},
            "cost": cost(t),
            "error": t.error,
            "worker": t.worker_id,
            "attempt": t.attempt,
            "started_at": t.started_at,
            "finished_at": t.finished_at,
            "reports": [
                {"step": r.step, **{k: _num(v) for k, v in r.metrics.items()}} for r in t.reports
            ],
        }
        for t in trials
    ]


def write_json(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, default=str)
