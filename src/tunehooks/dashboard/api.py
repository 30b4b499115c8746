"""What the dashboard's JSON endpoints answer, read from a read-only storage.

Pure functions of the stored history (plus a cache of the costly analyses, keyed by
the number of finished trials, so a poll of a running sweep refits no forest until a
trial ends). Every number is JSON: non-finite values become ``null``.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tunehooks._format import format_number, format_params
from tunehooks.analysis._data import ReadOnlyStorage, epochs_of, load_from, pick_metric
from tunehooks.analysis.costs import cost_table
from tunehooks.analysis.importance import importance_warning, parameter_importance, slices
from tunehooks.analysis.traces import Axis
from tunehooks.dashboard import figures
from tunehooks.experiment import Experiment
from tunehooks.trial import TrialRecord, TrialState

__all__ = ["DashboardData", "clean", "run_folder"]

LOG_TAIL_BYTES = 4000


def clean(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by ``None`` (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj


def run_folder(runs_dir: str | os.PathLike[str], experiment: str, trial_id: int) -> Path:
    """Where ``tunehooks launch`` keeps a trial's logs (``launch.process.safe_name``)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", experiment) or "experiment"
    return Path(runs_dir) / safe / str(trial_id)


def _tail(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - LOG_TAIL_BYTES))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return None


def _duration(t: TrialRecord) -> float | None:
    if t.started_at is None:
        return None
    end = t.finished_at if t.finished_at is not None else t.heartbeat_at
    return None if end is None else max(0.0, end - t.started_at)


def trial_row(t: TrialRecord, metric: str | None) -> dict[str, Any]:
    """One line of the trial table."""
    last = t.reports[-1] if t.reports else None
    return {
        "number": t.number,
        "id": t.id,
        "state": t.state.value,
        "params": dict(t.params),
        "params_text": format_params(t.params),
        "values": dict(t.values),
        "value": None if metric is None else t.last_reported(metric),
        "fidelity": t.fidelity,
        "step": None if last is None else last.step,
        "epochs": epochs_of(t),
        "started_at": t.started_at,
        "finished_at": t.finished_at,
        "duration": _duration(t),
        "worker": t.worker_id,
        "error": None if not t.error else t.error.splitlines()[0][:200],
        "attempt": t.attempt,
    }


class DashboardData:
    """The dashboard's reads of one storage URL, opened read-only.

    Example:
        >>> import tunehooks as th, tempfile, os
        >>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "t.db")
        >>> exp = th.Experiment.create("doc-dash", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("y", goal="minimize")], budget=th.Budget(trials=2),
        ...     storage=url, method="random")
        >>> for t in exp.ask_loop():
        ...     _ = t.complete({"y": t.params["x"]})
        >>> data = DashboardData(url)
        >>> [e["name"] for e in data.experiments()], data.experiment("doc-dash")["counts"]["COMPLETED"]
        (['doc-dash'], 2)
    """

    def __init__(self, url: str, *, runs_dir: str | os.PathLike[str] = "runs") -> None:
        self.store = ReadOnlyStorage(url)
        self.runs_dir = Path(runs_dir)
        self._lock = threading.Lock()
        self._analyses: dict[tuple[str, str], tuple[tuple[int, ...], dict[str, Any]]] = {}

    def close(self) -> None:
        self.store.close()

    def _load(self, name: str) -> Experiment:
        return load_from(self.store, name)

    def experiments(self) -> list[dict[str, Any]]:
        """Every experiment: name, method, trials per state, best value."""
        out = []
        for name in self.store.list_experiments():
            exp = self._load(name)
            counts = self.store.count_trials(exp.id)
            row: dict[str, Any] = {
                "name": name,
                "method": exp.method.value,
                "objectives": [m.name for m in exp.objectives],
                "counts": {s.value: counts.get(s, 0) for s in TrialState},
                "trials": sum(counts.values()),
                "best": None,
            }
            if len(exp.objectives) == 1:
                b = exp.best
                m = exp.objectives[0].name
                if b is not None:
                    row["best"] = {"number": b.number, "metric": m, "value": b.values[m]}
            out.append(row)
        return clean(out)  # type: ignore[no-any-return]

    def experiment(self, name: str, *, metric: str | None = None) -> dict[str, Any]:
        """Everything the page shows of one experiment: summary, trial table, figures."""
        exp = self._load(name)
        history = exp.get_trials()
        m = pick_metric(exp.metrics, metric)
        metric_name = m.name
        counts = {s.value: 0 for s in TrialState}
        for t in history:
            counts[t.state.value] += 1
        n_used, cost = exp.budget_used(history)
        out: dict[str, Any] = {
            "name": name,
            "method": exp.method.value,
            "metric": metric_name,
            "metrics": [
                {
                    "name": x.name,
                    "goal": x.goal.value if x.goal else None,
                    "strategy": x.strategy.value,
                }
                for x in exp.metrics
            ],
            "counts": counts,
            "budget": {
                "trials": exp.budget.trials,
                "cost": exp.budget.cost,
                "used": n_used,
                "cost_used": cost,
            },
            "trials": [trial_row(t, metric_name) for t in history],
            "best": None,
            "figures": {},
        }
        if len(exp.objectives) == 1:
            b = exp.best
            if b is not None:
                out["best"] = {
                    "number": b.number,
                    "value": b.values.get(m.name),
                    "value_text": format_number(b.values.get(m.name)),
                    "params": dict(b.params),
                    "params_text": format_params(b.params),
                }
        figs = out["figures"]
        figs["best_so_far"] = {
            a.value: figures.best_so_far_figure(exp, history, metric=m.name, axis=a)
            for a in (Axis.TRIALS, Axis.EPOCHS, Axis.HOURS)
        }
        figs["curves"] = figures.learning_curves_figure(exp, history, metric=m.name)
        figs["parallel"] = figures.parallel_coordinates_figure(exp, history, metric=m.name)
        figs.update(self._analysis(exp, history, m.name))
        pareto = figures.pareto_figure(exp, history)
        if pareto is not None:
            figs["pareto"] = pareto
        out["costs"] = cost_table(exp, metric=m.name, trials=history).rows()
        return clean(out)  # type: ignore[no-any-return]

    def _analysis(
        self, exp: Experiment, history: Sequence[TrialRecord], metric: str
    ) -> dict[str, Any]:
        """Importance and slices, refitted only when a trial finished since the last fit."""
        key = tuple(
            sum(1 for t in history if t.state is s)
            for s in (TrialState.COMPLETED, TrialState.PRUNED)
        )
        with self._lock:
            cached = self._analyses.get((exp.name, metric))
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            imps = parameter_importance(exp, metric=metric, trials=history)
            note = importance_warning(imps)
        except ValueError as e:
            imps, note = [], str(e)
        top = [i.name for i in imps][:4] or None
        sl = slices(exp, params=top, top=4, metric=metric, trials=history)
        result = {
            "importance": {
                **figures.importance_figure(imps, metric=metric),
                "warning": note,
                "table": [{"name": i.name, "value": i.value, "std": i.std} for i in imps],
            },
            "slices": figures.slice_figures(exp, sl, metric=metric),
        }
        with self._lock:
            self._analyses[(exp.name, metric)] = (key, result)
        return result

    def trial(self, name: str, number: int) -> dict[str, Any]:
        """One trial in full: params, values, every metric's curve, error, the logs' tail."""
        exp = self._load(name)
        found = [t for t in exp.get_trials() if t.number == number]
        if not found:
            raise KeyError(f"experiment {name!r} has no trial {number}")
        t = found[0]
        metrics = sorted({k for r in t.reports for k in r.metrics})
        folder = run_folder(self.runs_dir, name, t.id)
        out = {
            **trial_row(t, None),
            "error": t.error,
            "curves": {
                k: [[r.step, r.metrics[k]] for r in t.reports if k in r.metrics] for k in metrics
            },
            "logs": {
                "folder": str(folder),
                "stdout": _tail(folder / "stdout.log"),
                "stderr": _tail(folder / "stderr.log"),
            },
        }
        return clean(out)  # type: ignore[no-any-return]
