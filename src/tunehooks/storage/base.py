"""The storage protocol: the only state shared between processes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from tunehooks.trial import Report, Suggestion, TrialRecord, TrialState

__all__ = [
    "DEFAULT_STORAGE_URL",
    "DuplicateExperimentError",
    "ExperimentNotFoundError",
    "SchemaVersionError",
    "Started",
    "Storage",
    "StorageError",
    "StoredReport",
]

DEFAULT_STORAGE_URL = "sqlite:///tunehooks.db"


class StorageError(RuntimeError):
    """The storage could not be opened or used."""


class ExperimentNotFoundError(StorageError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "experiment not found"


class DuplicateExperimentError(StorageError):
    pass


class SchemaVersionError(StorageError):
    pass


class StoredReport(NamedTuple):
    """What ``add_report`` / ``add_reports`` read while storing reports.

    Example:
        >>> from tunehooks.storage.memory import MemoryStorage
        >>> from tunehooks.asking import ask
        >>> from tunehooks.trial import Suggestion
        >>> s = MemoryStorage()
        >>> t = ask(s, s.create_experiment("e", {}), lambda h: Suggestion({"x": 1}))
        >>> s.add_report(t.id, 1, {"acc": 0.5})
        StoredReport(trial_number=0)
    """

    trial_number: int


class Started(NamedTuple):
    """What :meth:`Storage.start_if_unchanged` did: ``changed`` when the history moved
    on since the caller's snapshot (nothing was written); else ``trial``, the trial it
    started, or ``None`` for a ``None`` suggestion.

    Example:
        >>> from tunehooks.storage.memory import MemoryStorage
        >>> from tunehooks.trial import Suggestion
        >>> s = MemoryStorage()
        >>> exp_id = s.create_experiment("e", {})
        >>> s.start_if_unchanged(exp_id, Suggestion({"x": 1}), last_number=-1).trial.number
        0
        >>> s.start_if_unchanged(exp_id, Suggestion({"x": 2}), last_number=-1)  # trial 0 is new
        Started(changed=True, trial=None)
    """

    changed: bool
    trial: TrialRecord | None = None


ProposeFn = Callable[[Sequence[TrialRecord]], Suggestion | None]
"""Called with every trial of the experiment (running ones included, with their
reports); returns the trial to start or ``None`` when the budget is spent."""


class Storage(Protocol):
    """Persists experiments, trials and reports. Every backend passes the conformance
    suite :mod:`tunehooks.testing.storage_conformance`.

    The ask (which trial a worker starts next) is not a storage method: it is
    :func:`tunehooks.asking.ask`, built on the three trial-starting primitives below,
    so a backend implements only those.
    """

    url: str
    shown_url: str
    """``url`` with its password hidden: what messages show."""
    retry_timeout: float
    """Seconds an operation is retried while the database is unavailable."""

    # experiments
    def create_experiment(self, name: str, config: Mapping[str, Any]) -> int: ...
    def update_experiment_config(self, experiment_id: int, config: Mapping[str, Any]) -> None: ...
    def get_experiment(self, name: str) -> tuple[int, dict[str, Any]]: ...
    def list_experiments(self) -> list[str]: ...
    def delete_experiment(self, name: str) -> None: ...
    def rename_experiment(self, old: str, new: str) -> None: ...

    # starting trials (see tunehooks.asking)
    def claim_queued(
        self, experiment_id: int, *, worker_id: str | None = None
    ) -> TrialRecord | None:
        """QUEUED -> RUNNING for the experiment's first queued trial (``None``: none is)."""
        ...

    def start_if_unchanged(
        self,
        experiment_id: int,
        suggestion: Suggestion | None,
        *,
        last_number: int,
        worker_id: str | None = None,
    ) -> Started:
        """Start ``suggestion`` (a new RUNNING trial, or the PAUSED trial it resumes)
        only while the experiment's highest trial number is still ``last_number`` (and
        the trial to resume still PAUSED): one atomic step."""
        ...

    def start_locked(
        self, experiment_id: int, propose: ProposeFn, *, worker_id: str | None = None
    ) -> TrialRecord | None:
        """Under the experiment's write lock: claim the first queued trial, else start
        what ``propose`` suggests for the current history (``None``: nothing)."""
        ...

    # trials
    def enqueue(
        self, experiment_id: int, params: Mapping[str, Any], fidelity: float | None = None
    ) -> TrialRecord: ...
    def add_report(
        self, trial_id: int, step: int, metrics: Mapping[str, float]
    ) -> StoredReport: ...
    def add_reports(
        self, trial_id: int, reports: Sequence[Report], *, retry_for: float | None = None
    ) -> StoredReport:
        """Store reports of a RUNNING trial (an upsert by step) and touch its heartbeat;
        ``retry_for``: seconds to retry an unavailable database (backend default)."""
        ...

    # finish: ``reports`` are written in the same transaction as the end; with
    # ``known`` (the caller's snapshot of the trial, its whole curve included) the
    # result is that snapshot with the new end and nothing is read back.
    def finish(
        self,
        trial_id: int,
        state: TrialState,
        values: Mapping[str, float] | None = None,
        error: str | None = None,
        *,
        reports: Sequence[Report] = (),
        known: TrialRecord | None = None,
    ) -> TrialRecord: ...
    def requeue(self, trial_id: int, *, error: str | None = None) -> TrialRecord: ...
    def heartbeat(self, trial_ids: Sequence[int]) -> None: ...
    def stale_trials(self, experiment_id: int, older_than: float) -> list[TrialRecord]: ...
    def get_trial(self, trial_id: int, *, with_reports: bool = True) -> TrialRecord: ...
    def experiment_of(self, trial_id: int) -> int:
        """The id of the experiment trial ``trial_id`` belongs to."""
        ...

    def get_trials(
        self,
        experiment_id: int,
        *,
        states: Sequence[TrialState] | None = None,
        with_reports: bool = True,
    ) -> list[TrialRecord]: ...
    def count_trials(self, experiment_id: int) -> dict[TrialState, int]: ...
    def close(self) -> None: ...
