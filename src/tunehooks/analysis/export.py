"""Exports: trials with their curves as JSON, curves in long form as CSV.

The flat one-row-per-trial CSV is :meth:`tunehooks.Experiment.to_csv`; the
DataFrame is :meth:`tunehooks.Experiment.to_dataframe`.
"""

from __future__ import annotations

import csv
import math
import os
from typing import Any

from tunehooks.experiment import Experiment

__all__ = ["curves_csv", "trials_json", "write_json"]


def trials_json(exp: Experiment) -> dict[str, Any]:
    """The configuration and every trial (params, state, final metrics, cost, curve)."""
    return exp.to_json()


def write_json(exp: Experiment, path: str | os.PathLike[str]) -> int:
    """Write :func:`trials_json` to ``path``; return the number of trials."""
    return len(exp.to_json(path)["trials"])


def curves_csv(exp: Experiment, path: str | os.PathLike[str]) -> int:
    """Write every report as rows ``number, state, step, time, metric, value``; return the row
    count.

    Example:
        >>> import tunehooks as th, tempfile, os
        >>> exp = th.Experiment.create("doc-curves", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("y", goal="minimize")], budget=th.Budget(trials=1),
        ...     storage="sqlite://", method="random")
        >>> t = exp.ask()
        >>> for step in (1, 2):
        ...     _ = t.report(step, {"y": 1.0 / step})
        >>> curves_csv(exp, os.path.join(tempfile.mkdtemp(), "curves.csv"))
        2
    """
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["number", "state", "step", "time", "metric", "value"])
        for t in exp.get_trials():
            for r in t.reports:
                for name, v in r.metrics.items():
                    w.writerow(
                        [
                            t.number,
                            t.state.value,
                            r.step,
                            r.time,
                            name,
                            v if math.isfinite(v) else "",
                        ]
                    )
                    n += 1
    return n
