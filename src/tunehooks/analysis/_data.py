"""Reading an experiment for analysis: read-only storage and the shared trial helpers.

:func:`open_readonly` opens a stored experiment without writing anything: no
schema creation, no write transaction, and on SQLite a ``mode=ro`` connection
whose reads (one deferred transaction per read, a WAL snapshot) never wait for
the workers that are still writing to the same file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

from tunehooks.experiment import CONFIG_VERSION, Experiment
from tunehooks.fidelity import Fidelity
from tunehooks.metrics import Metric, Strategy
from tunehooks.storage import Storage
from tunehooks.storage.sql import SQLStorage
from tunehooks.trial import TrialRecord, TrialState

__all__ = [
    "ReadOnlyStorage",
    "epochs_of",
    "finished_in_order",
    "gpu_hours_of",
    "is_eligible",
    "load_from",
    "open_readonly",
    "pick_metric",
]

T = TypeVar("T")


class ReadOnlyStorage(SQLStorage):
    """A :class:`~tunehooks.storage.sql.SQLStorage` that only reads
    (``SQLStorage(url, read_only=True)``).

    Every write raises :class:`~tunehooks.storage.StorageError`. On SQLite the
    file is opened with ``mode=ro``; on PostgreSQL every transaction is
    ``READ ONLY``.
    """

    def __init__(self, url: str) -> None:
        super().__init__(url, read_only=True)


def open_readonly(name: str | None = None, *, storage: str | None = None) -> Experiment:
    """Load experiment ``name`` for analysis without writing to (or locking) the database.

    Without ``name`` the database must hold exactly one experiment.

    Example:
        >>> import tunehooks as th, tempfile, os
        >>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "t.db")
        >>> _ = th.Experiment.create("ro", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("y", goal="minimize")], budget=th.Budget(trials=1),
        ...     storage=url, method="random")
        >>> open_readonly("ro", storage=url).name
        'ro'
    """
    from tunehooks.storage import default_storage_url

    return load_from(ReadOnlyStorage(storage or default_storage_url()), name)


def load_from(store: Storage, name: str | None) -> Experiment:
    """Experiment ``name`` (the only one when ``None``) from an open storage."""
    if name is None:
        names = store.list_experiments()
        if len(names) != 1:
            raise ValueError(
                f"name the experiment: {store.shown_url} holds {names or 'no experiments'}"
            )
        name = names[0]
    exp_id, config = store.get_experiment(name)
    if int(config.get("version", 0)) > CONFIG_VERSION:
        raise ValueError(
            f"experiment {name!r} was written by a newer tunehooks (config version "
            f"{config['version']}); upgrade tunehooks"
        )
    return Experiment(name, exp_id, config, store)


# -- helpers shared by the analyses -------------------------------------------------------------
def pick_metric(metrics: Sequence[Metric], name: str | None) -> Metric:
    """The metric called ``name``, or the first optimized one."""
    if name is None:
        for m in metrics:
            if m.strategy is Strategy.OPTIMIZE:
                return m
        raise ValueError("metric: the experiment has no optimized metric; name one")
    for m in metrics:
        if m.name == name:
            if m.goal is None:
                raise ValueError(f"metric {name!r} has no goal (strategy='store'); name another")
            return m
    raise ValueError(f"metric {name!r} is not one of {[m.name for m in metrics]}")


def is_full_fidelity(t: TrialRecord, fidelity: Fidelity | None) -> bool:
    return fidelity is None or t.fidelity is None or t.fidelity >= fidelity.max_resource


def is_eligible(t: TrialRecord, metrics: Sequence[Metric], fidelity: Fidelity | None) -> bool:
    """COMPLETED, at full fidelity, every constraint met: a result that may be called best."""
    if t.state is not TrialState.COMPLETED or not is_full_fidelity(t, fidelity):
        return False
    return all(c.is_met(t.value(c.name)) for c in metrics if c.strategy is Strategy.CONSTRAINT)


def finished_in_order(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """Finished trials in the order they finished (trial number breaks ties)."""
    done = [t for t in trials if t.state.is_finished]
    return sorted(done, key=lambda t: (t.finished_at or math.inf, t.number))


def epochs_of(t: TrialRecord) -> float:
    """Epochs (reported steps) a trial trained: its last reported step, 0 without reports."""
    return float(t.reports[-1].step) if t.reports else 0.0


def gpu_hours_of(t: TrialRecord, gpus_per_trial: float = 1.0) -> float:
    """Wall-clock hours between start and finish times ``gpus_per_trial``."""
    if t.started_at is None or t.finished_at is None:
        return 0.0
    return max(0.0, t.finished_at - t.started_at) * gpus_per_trial / 3600.0


def curve(t: TrialRecord, metric: str) -> tuple[list[float], list[float]]:
    """The (steps, values) of ``metric`` in a trial's reports."""
    xs: list[float] = []
    ys: list[float] = []
    for r in t.reports:
        v = r.metrics.get(metric)
        if v is not None and math.isfinite(v):
            xs.append(float(r.step))
            ys.append(float(v))
    return xs, ys
