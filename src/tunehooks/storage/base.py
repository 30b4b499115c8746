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
    """What ``add_report`` / ``add_reports`` read while storing reports: enough for a
    scheduler to tell whether a report reached a decision point, without loading the
    trial."""

    trial_number: int
    previous_step: int | None
    """The highest step this trial reported before, other than this (the first) one."""


ProposeFn = Callable[[Sequence[TrialRecord]], Suggestion | None]
"""Called inside the atomic ask with every trial of the experiment (running ones
included, without reports unless asked); returns the trial to start or ``None``
when the budget is spent."""


class Storage(Protocol):
    """Persists experiments, trials and reports. Every backend passes
    ``tests/unit/storage_conformance.py``."""

    url: str

    # experiments
    def create_experiment(self, name: str, config: Mapping[str, Any]) -> int: ...
    def update_experiment_config(self, experiment_id: int, config: Mapping[str, Any]) -> None: ...
    def get_experiment(self, name: str) -> tuple[int, dict[str, Any]]: ...
    def list_experiments(self) -> list[str]: ...
    def delete_experiment(self, name: str) -> None: ...

    # trials
    def ask(
        self, experiment_id: int, propose: ProposeFn, *, worker_id: str | None = None
    ) -> TrialRecord | None: ...
    def enqueue(
        self, experiment_id: int, params: Mapping[str, Any], fidelity: float | None = None
    ) -> TrialRecord: ...
    def add_report(
        self, trial_id: int, step: int, metrics: Mapping[str, float]
    ) -> StoredReport: ...
    def add_reports(self, trial_id: int, reports: Sequence[Report]) -> StoredReport: ...
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
    def requeue(self, trial_id: int) -> TrialRecord: ...
    def heartbeat(self, trial_ids: Sequence[int]) -> None: ...
    def stale_trials(self, experiment_id: int, older_than: float) -> list[TrialRecord]: ...
    def get_trial(self, trial_id: int, *, with_reports: bool = True) -> TrialRecord: ...
    def get_trials(
        self,
        experiment_id: int,
        *,
        states: Sequence[TrialState] | None = None,
        with_reports: bool = True,
    ) -> list[TrialRecord]: ...
    def count_trials(self, experiment_id: int) -> dict[TrialState, int]: ...
    def close(self) -> None: ...
