"""An in-memory storage backend: one process, no database (tests and simulations).

Everything lives in this object and ends with it; threads of one process share it
(one lock). It passes the same conformance suite as the SQL backends
(:mod:`tunehooks.testing.storage_conformance`). Open it with
``open_storage("memory://")`` (one per URL and process, so ``memory://a`` and
``memory://b`` are two stores) or ``MemoryStorage()``.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tunehooks.storage import _records
from tunehooks.storage.base import (
    DuplicateExperimentError,
    ExperimentNotFoundError,
    ProposeFn,
    Started,
    StorageError,
    StoredReport,
)
from tunehooks.trial import Report, Suggestion, TrialRecord, TrialState

__all__ = ["MemoryStorage"]


def _copy(obj: Any) -> Any:
    """What a database round trip gives: JSON data, a new object."""
    return json.loads(json.dumps(obj))


@dataclasses.dataclass
class _Experiment:
    id: int
    name: str
    config: str  # JSON, as a database keeps it
    trials: list[int] = dataclasses.field(default_factory=list)  # ids in number order


class MemoryStorage:
    """Storage in this process's memory.

    Example:
        >>> s = MemoryStorage()
        >>> exp_id = s.create_experiment("demo", {"any": "json"})
        >>> s.get_experiment("demo")
        (1, {'any': 'json'})
    """

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self.shown_url = url
        self.retry_timeout = 0.0  # never unavailable
        self._lock = threading.RLock()
        self._experiments: dict[int, _Experiment] = {}
        self._trials: dict[int, TrialRecord] = {}
        self._reports: dict[int, dict[int, Report]] = {}
        self._experiment_of: dict[int, int] = {}
        self._next_experiment = 1
        self._next_trial = 1

    # -- experiments ----------------------------------------------------------------------
    def create_experiment(self, name: str, config: Mapping[str, Any]) -> int:
        with self._lock:
            if any(e.name == name for e in self._experiments.values()):
                raise DuplicateExperimentError(
                    f"experiment {name!r} already exists in {self.url}; load it with "
                    "Experiment.load(name) or pass load_if_exists=True"
                )
            exp_id = self._next_experiment
            self._next_experiment += 1
            self._experiments[exp_id] = _Experiment(exp_id, name, json.dumps(dict(config)))
            return exp_id

    def update_experiment_config(self, experiment_id: int, config: Mapping[str, Any]) -> None:
        with self._lock:
            exp = self._experiments.get(experiment_id)
            if exp is None:
                raise ExperimentNotFoundError(
                    f"no experiment with id {experiment_id} in {self.url}"
                )
            exp.config = json.dumps(dict(config))

    def get_experiment(self, name: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            for exp in self._experiments.values():
                if exp.name == name:
                    return exp.id, json.loads(exp.config)
            known = self.list_experiments()
        raise ExperimentNotFoundError(
            f"no experiment {name!r} in {self.url}; known: {known or 'none'}"
        )

    def list_experiments(self) -> list[str]:
        with self._lock:
            return [e.name for e in self._experiments.values()]

    def delete_experiment(self, name: str) -> None:
        with self._lock:
            exp_id, _ = self.get_experiment(name)
            for trial_id in self._experiments.pop(exp_id).trials:
                del self._trials[trial_id], self._experiment_of[trial_id]
                self._reports.pop(trial_id, None)

    def rename_experiment(self, old: str, new: str) -> None:
        with self._lock:
            if any(e.name == new for e in self._experiments.values()):
                raise DuplicateExperimentError(
                    f"experiment {new!r} already exists in {self.url}; pick another name"
                )
            for exp in self._experiments.values():
                if exp.name == old:
                    exp.name = new
                    return
        raise ExperimentNotFoundError(f"no experiment {old!r} in {self.url}")

    # -- starting trials --------------------------------------------------------------------
    def claim_queued(
        self, experiment_id: int, *, worker_id: str | None = None
    ) -> TrialRecord | None:
        with self._lock:
            for trial_id in self._exp(experiment_id).trials:
                if self._trials[trial_id].state is TrialState.QUEUED:
                    return self._set(
                        trial_id, **_records.claimed(now=time.time(), worker_id=worker_id)
                    )
            return None

    def start_if_unchanged(
        self,
        experiment_id: int,
        suggestion: Suggestion | None,
        *,
        last_number: int,
        worker_id: str | None = None,
    ) -> Started:
        with self._lock:
            if len(self._exp(experiment_id).trials) - 1 != last_number:
                return Started(changed=True)
            if suggestion is None:
                return Started(False)
            if suggestion.resume is not None:
                resumed = self._resume(suggestion, worker_id)
                return Started(True) if resumed is None else Started(False, resumed)
            return Started(False, self._insert(experiment_id, suggestion, worker_id=worker_id))

    def start_locked(
        self, experiment_id: int, propose: ProposeFn, *, worker_id: str | None = None
    ) -> TrialRecord | None:
        with self._lock:
            claimed = self.claim_queued(experiment_id, worker_id=worker_id)
            if claimed is not None:
                return claimed
            suggestion = propose(self.get_trials(experiment_id))
            if suggestion is None:
                return None
            if suggestion.resume is not None:
                return self._resume(suggestion, worker_id)
            return self._insert(experiment_id, suggestion, worker_id=worker_id)

    def enqueue(
        self, experiment_id: int, params: Mapping[str, Any], fidelity: float | None = None
    ) -> TrialRecord:
        with self._lock:
            return self._insert(experiment_id, Suggestion(params, fidelity), queued=True)

    # -- reports and ends -------------------------------------------------------------------
    def add_report(self, trial_id: int, step: int, metrics: Mapping[str, float]) -> StoredReport:
        return self.add_reports(trial_id, [Report(step, metrics)])

    def add_reports(
        self, trial_id: int, reports: Sequence[Report], *, retry_for: float | None = None
    ) -> StoredReport:
        _records.check_reports(reports)
        with self._lock:
            trial = self._trial(trial_id)
            if trial.state is not TrialState.RUNNING:
                raise _records.reports_refused(trial.number, trial.state)
            self._upsert(trial_id, reports, time.time())
            self._set(trial_id, heartbeat_at=time.time())
            return StoredReport(trial.number)

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
        _records.check_end_state(state)
        with self._lock:
            trial = self._trial(trial_id)
            if trial.state not in (TrialState.RUNNING, TrialState.QUEUED):
                raise _records.end_refused(trial.number, trial.state, state)
            now = time.time()
            if reports:
                self._upsert(trial_id, reports, now)
            end = _records.ended(state, values, error, now=now)
            return self._set(trial_id, **{**end, "values": _copy(end["values"])})

    def requeue(self, trial_id: int, *, error: str | None = None) -> TrialRecord:
        with self._lock:
            old = self._trial(trial_id)
            if old.state is TrialState.RUNNING:
                self.finish(trial_id, TrialState.FAILED, error=error or "requeued")
            return self._insert(
                self._experiment_of[trial_id],
                Suggestion(old.params, old.fidelity),
                queued=True,
                attempt=old.attempt + 1,
            )

    def heartbeat(self, trial_ids: Sequence[int]) -> None:
        with self._lock:
            now = time.time()
            for trial_id in trial_ids:
                trial = self._trials.get(trial_id)
                if trial is not None and trial.state is TrialState.RUNNING:
                    self._set(trial_id, heartbeat_at=now)

    # -- reading ---------------------------------------------------------------------------
    def stale_trials(self, experiment_id: int, older_than: float) -> list[TrialRecord]:
        running = self.get_trials(experiment_id, states=[TrialState.RUNNING], with_reports=False)
        return _records.stale(running, older_than)

    def get_trial(self, trial_id: int, *, with_reports: bool = True) -> TrialRecord:
        with self._lock:
            return self._record(self._trial(trial_id), with_reports)

    def experiment_of(self, trial_id: int) -> int:
        with self._lock:
            self._trial(trial_id)
            return self._experiment_of[trial_id]

    def get_trials(
        self,
        experiment_id: int,
        *,
        states: Sequence[TrialState] | None = None,
        with_reports: bool = True,
    ) -> list[TrialRecord]:
        with self._lock:
            exp = self._experiments.get(experiment_id)
            trials = [self._trials[i] for i in exp.trials] if exp is not None else []
            wanted = None if states is None else {TrialState(s) for s in states}
            return [
                self._record(t, with_reports) for t in trials if wanted is None or t.state in wanted
            ]

    def count_trials(self, experiment_id: int) -> dict[TrialState, int]:
        counts = dict.fromkeys(TrialState, 0)
        for t in self.get_trials(experiment_id, with_reports=False):
            counts[t.state] += 1
        return counts

    def close(self) -> None:
        """Nothing to release (the data stays while the object lives)."""

    # -- inside the lock ----------------------------------------------------------------------
    def _exp(self, experiment_id: int) -> _Experiment:
        exp = self._experiments.get(experiment_id)
        if exp is None:
            raise ExperimentNotFoundError(f"no experiment with id {experiment_id} in {self.url}")
        return exp

    def _trial(self, trial_id: int) -> TrialRecord:
        trial = self._trials.get(trial_id)
        if trial is None:
            raise StorageError(f"no trial with id {trial_id} in {self.url}")
        return trial

    def _record(self, trial: TrialRecord, with_reports: bool) -> TrialRecord:
        if not with_reports:
            return trial
        reports = self._reports.get(trial.id, {})
        return dataclasses.replace(trial, reports=tuple(reports[s] for s in sorted(reports)))

    def _set(self, trial_id: int, **changes: Any) -> TrialRecord:
        self._trials[trial_id] = dataclasses.replace(self._trials[trial_id], **changes)
        return self._record(self._trials[trial_id], True)

    def _upsert(self, trial_id: int, reports: Sequence[Report], now: float) -> None:
        stored = self._reports.setdefault(trial_id, {})
        for r in reports:
            stored[int(r.step)] = Report(int(r.step), _copy(dict(r.metrics)), r.time or now)

    def _insert(
        self,
        experiment_id: int,
        suggestion: Suggestion,
        *,
        queued: bool = False,
        worker_id: str | None = None,
        attempt: int = 0,
    ) -> TrialRecord:
        exp = self._exp(experiment_id)
        fields = _records.new_trial(
            suggestion, now=time.time(), queued=queued, worker_id=worker_id, attempt=attempt
        )
        trial_id = self._next_trial
        self._next_trial += 1
        self._trials[trial_id] = TrialRecord(
            id=trial_id, number=len(exp.trials), **{**fields, "params": _copy(fields["params"])}
        )
        exp.trials.append(trial_id)
        self._experiment_of[trial_id] = experiment_id
        return self._record(self._trials[trial_id], True)

    def _resume(self, suggestion: Suggestion, worker_id: str | None) -> TrialRecord | None:
        trial_id = suggestion.resume
        trial = self._trials.get(trial_id) if trial_id is not None else None
        if trial is None or trial.state is not TrialState.PAUSED:
            return None  # resumed by another worker meanwhile
        return self._set(
            trial.id, **_records.resumed(suggestion, now=time.time(), worker_id=worker_id)
        )
