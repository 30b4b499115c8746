"""The storage conformance suite: every backend must pass it.

Subclass :class:`StorageConformance` in a test module and provide a ``storage``
fixture giving a fresh, empty backend (any :class:`~tunehooks.storage.Storage`)::

    class TestMemory(StorageConformance):
        @pytest.fixture
        def storage(self):
            return MemoryStorage()

A SQL database can instead be given by a ``storage_url`` fixture (a fresh, empty
database URL; the default ``storage`` fixture opens it with ``SQLStorage``). The
``reopen`` fixture closes a backend and opens the same data again (``None``: the
data ends with the object, as an in-memory database's does); override it for a
backend that is not opened from a URL.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence

import pytest

from tunehooks.asking import ask
from tunehooks.storage import (
    DuplicateExperimentError,
    ExperimentNotFoundError,
    Storage,
    StorageError,
)
from tunehooks.storage.base import ProposeFn
from tunehooks.trial import Report, Suggestion, TrialRecord, TrialState, TrialStateError

__all__ = ["Reopen", "StorageConformance"]

Reopen = Callable[[Storage], "Storage | None"]
"""Closes a backend and returns a new one on the same data (``None``: it cannot)."""


def _propose_x(x: float) -> ProposeFn:
    def propose(history: Sequence[TrialRecord]) -> Suggestion | None:
        return Suggestion({"x": x + len(history)}, fidelity=3.0)

    return propose


class StorageConformance:
    """Behaviour every storage backend must show."""

    @pytest.fixture
    def storage(self, request: pytest.FixtureRequest) -> Iterator[Storage]:
        from tunehooks.storage.sql import SQLStorage

        s = SQLStorage(request.getfixturevalue("storage_url"))
        yield s
        s.close()

    @pytest.fixture
    def reopen(self) -> Reopen:
        def again(storage: Storage) -> Storage | None:
            from tunehooks.storage import open_storage_uncached

            url = storage.url
            if url in ("sqlite://", "sqlite:///:memory:") or url.startswith("memory:"):
                return None
            storage.close()
            return open_storage_uncached(url)

        return again

    def test_experiment_roundtrip_and_duplicates(self, storage: Storage) -> None:
        config = {"space": {"a": [1, 2.5, "x"]}, "nan": None}
        exp_id = storage.create_experiment("e1", config)
        assert storage.get_experiment("e1") == (exp_id, config)
        with pytest.raises(DuplicateExperimentError, match="already exists"):
            storage.create_experiment("e1", {})
        with pytest.raises(ExperimentNotFoundError, match="known: \\['e1'\\]"):
            storage.get_experiment("nope")
        storage.create_experiment("e2", {})
        assert storage.list_experiments() == ["e1", "e2"]
        storage.update_experiment_config(exp_id, {**config, "budget": {"trials": 9}})
        assert storage.get_experiment("e1") == (exp_id, {**config, "budget": {"trials": 9}})
        with pytest.raises(ExperimentNotFoundError):
            storage.update_experiment_config(10_000, {})

    def test_ask_numbers_trials_and_passes_history(self, storage: Storage) -> None:
        exp_id = storage.create_experiment("e", {})
        seen: list[int] = []

        def propose(history: Sequence[TrialRecord]) -> Suggestion | None:
            seen.append(len(history))
            return None if len(history) >= 3 else Suggestion({"i": len(history)})

        trials = [ask(storage, exp_id, propose, worker_id="w") for _ in range(4)]
        assert [t.number for t in trials[:3] if t] == [0, 1, 2]
        assert trials[3] is None
        assert seen == [0, 1, 2, 3]
        t0 = trials[0]
        assert t0 is not None
        assert t0.state is TrialState.RUNNING and t0.worker_id == "w" and t0.params == {"i": 0}
        assert t0.started_at is not None and t0.heartbeat_at is not None

    def test_queued_trials_are_served_first(self, storage: Storage) -> None:
        exp_id = storage.create_experiment("e", {})
        q = storage.enqueue(exp_id, {"x": 42}, fidelity=9.0)
        assert q.state is TrialState.QUEUED
        t = ask(storage, exp_id, _propose_x(0.0))
        assert t is not None and t.id == q.id and t.params == {"x": 42} and t.fidelity == 9.0
        assert t.state is TrialState.RUNNING
        t2 = ask(storage, exp_id, _propose_x(0.0))
        assert t2 is not None and t2.params == {"x": 1.0} and t2.number == 1

    def test_reports_are_stored_in_order_and_upserted(self, storage: Storage) -> None:
        exp_id = storage.create_experiment("e", {})
        t = ask(storage, exp_id, _propose_x(0.0))
        assert t is not None
        previous = [
            storage.add_report(t.id, step, {"acc": step / 10, "loss": float("nan")})
            for step in (2, 1, 3)
        ]
        assert previous == [(t.number,)] * 3  # each write says the trial's number
        assert storage.add_report(t.id, 3, {"acc": 0.99}).trial_number == t.number  # an upsert
        reps = storage.get_trial(t.id).reports
        assert [r.step for r in reps] == [1, 2, 3]
        assert reps[2].metrics == {"acc": 0.99}
        assert math.isnan(reps[0].metrics["loss"])
        # reports come back with every trial of the experiment
        (rec,) = storage.get_trials(exp_id)
        assert [r.step for r in rec.reports] == [1, 2, 3]
        assert storage.get_trials(exp_id, with_reports=False)[0].reports == ()

    def test_several_reports_are_written_in_one_call(self, storage: Storage) -> None:
        exp_id = storage.create_experiment("e", {})
        t = ask(storage, exp_id, _propose_x(0.0))
        assert t is not None
        assert storage.add_reports(t.id, [Report(1, {"acc": 0.1})]) == (t.number,)
        batch = [Report(step, {"acc": step / 10}, time=1000.0 + step) for step in (2, 3, 4)]
        assert storage.add_reports(t.id, batch) == (t.number,)
        assert [(r.step, r.metrics["acc"]) for r in storage.get_trial(t.id).reports] == [
            (1, 0.1),
            (2, 0.2),
            (3, 0.3),
            (4, 0.4),
        ]
        assert [r.time for r in storage.get_trial(t.id).reports][1:] == [1002.0, 1003.0, 1004.0]
        with pytest.raises(ValueError, match="at least one"):
            storage.add_reports(t.id, [])
        storage.finish(t.id, TrialState.PRUNED)
        with pytest.raises(TrialStateError, match="PRUNED"):
            storage.add_reports(t.id, [Report(5, {"acc": 0.5}), Report(6, {"acc": 0.6})])
        assert len(storage.get_trial(t.id).reports) == 4  # nothing of the refused batch

    def test_finish_can_write_the_last_reports_with_the_end(self, storage: Storage) -> None:
        exp_id = storage.create_experiment("e", {})
        t = ask(storage, exp_id, _propose_x(0.0))
        assert t is not None
        storage.add_report(t.id, 1, {"acc": 0.1})
        last = [Report(2, {"acc": 0.2}), Report(3, {"acc": 0.3})]
        done = storage.finish(t.id, TrialState.COMPLETED, {"acc": 0.3}, reports=last)
        assert done.state is TrialState.COMPLETED and [r.step for r in done.reports] == [1, 2, 3]
        with pytest.raises(TrialStateError, match="already COMPLETED"):
            storage.finish(t.id, TrialState.PRUNED, reports=[Report(4, {"acc": 0.4})])
        assert [r.step for r in storage.get_trial(t.id).reports] == [1, 2, 3]  # both or neither

    def test_finish_with_a_known_snapshot_reads_nothing_back(self, storage: Storage) -> None:
        exp_id = storage.create_experiment("e", {})
        t = ask(storage, exp_id, _propose_x(0.0))
        assert t is not None
        done = storage.finish(
            t.id, TrialState.PRUNED, {"acc": 0.2}, reports=[Report(1, {"acc": 0.2})], known=t
        )
        stored = storage.get_trial(t.id)
        assert (done.state, done.values, done.error) == (stored.state, stored.values, None)
        assert done.finished_at == stored.finished_at and done.params == stored.params
        assert [r.step for r in stored.reports] == [1]

    def test_history_reloads_see_every_new_report(self, storage: Storage) -> None:
        exp_id = storage.create_experiment("e", {})
        done = ask(storage, exp_id, _propose_x(0.0))
        running = ask(storage, exp_id, _propose_x(1.0))
        assert done is not None and running is not None
        storage.add_report(done.id, 1, {"acc": 0.1})
        storage.finish(done.id, TrialState.COMPLETED, {"acc": 0.1})
        for step in range(1, 4):
            storage.add_report(running.id, step, {"acc": step / 10})
            first, second = storage.get_trials(exp_id)
            assert [r.step for r in first.reports] == [1]  # finished: never changes
            assert [r.step for r in second.reports] == list(range(1, step + 1))
        storage.finish(running.id, TrialState.PRUNED)
        assert [len(t.reports) for t in storage.get_trials(exp_id)] == [1, 3]
        assert [len(t.reports) for t in storage.get_trials(exp_id, states=[TrialState.PRUNED])] == [
            3
        ]

    def test_finish_is_guarded(self, storage: Storage) -> None:
        exp_id = storage.create_experiment("e", {})
        t = ask(storage, exp_id, _propose_x(0.0))
        assert t is not None
        done = storage.finish(t.id, TrialState.COMPLETED, {"acc": 0.5})
        assert done.state is TrialState.COMPLETED and done.values == {"acc": 0.5}
        assert done.finished_at is not None
        with pytest.raises(TrialStateError, match="already COMPLETED"):
            storage.finish(t.id, TrialState.FAILED, error="late")
        with pytest.raises(TrialStateError):
            storage.add_report(t.id, 9, {"acc": 1.0})
        with pytest.raises(ValueError):
            storage.finish(t.id, TrialState.RUNNING)
        with pytest.raises(StorageError):
            storage.get_trial(10_000)

    def test_failed_trial_keeps_error_and_reports(self, storage: Storage) -> None:
        exp_id = storage.create_experiment("e", {})
        t = ask(storage, exp_id, _propose_x(0.0))
        assert t is not None
        storage.add_report(t.id, 1, {"acc": 0.1})
        rec = storage.finish(t.id, TrialState.FAILED, error="RuntimeError: boom")
        assert rec.error == "RuntimeError: boom" and len(rec.reports) == 1

    def test_requeue_makes_a_new_attempt_and_keeps_the_old(self, storage: Storage) -> None:
        exp_id = storage.create_experiment("e", {})
        t = ask(storage, exp_id, _propose_x(5.0))
        assert t is not None
        storage.add_report(t.id, 1, {"acc": 0.1})
        retry = storage.requeue(t.id, error="worker vanished")
        assert retry.state is TrialState.QUEUED and retry.attempt == 1
        assert retry.params == t.params and retry.fidelity == t.fidelity
        old = storage.get_trial(t.id)
        assert old.state is TrialState.FAILED and old.error == "worker vanished"
        assert len(old.reports) == 1
        nxt = ask(storage, exp_id, _propose_x(0.0))
        assert nxt is not None and nxt.id == retry.id

    def test_heartbeat_and_stale_trials(self, storage: Storage) -> None:
        exp_id = storage.create_experiment("e", {})
        a = ask(storage, exp_id, _propose_x(0.0))
        b = ask(storage, exp_id, _propose_x(0.0))
        assert a is not None and b is not None
        time.sleep(0.3)
        storage.heartbeat([a.id])
        stale = storage.stale_trials(exp_id, older_than=0.2)
        assert [t.id for t in stale] == [b.id]
        assert storage.get_trial(a.id).heartbeat_at > a.heartbeat_at  # type: ignore[operator]

    def test_counts_and_filters(self, storage: Storage) -> None:
        exp_id = storage.create_experiment("e", {})
        ids = []
        for _ in range(3):
            t = ask(storage, exp_id, _propose_x(0.0))
            assert t is not None
            ids.append(t.id)
        storage.finish(ids[0], TrialState.COMPLETED, {"acc": 1.0})
        storage.finish(ids[1], TrialState.PRUNED)
        counts = storage.count_trials(exp_id)
        assert counts[TrialState.COMPLETED] == 1 and counts[TrialState.PRUNED] == 1
        assert counts[TrialState.RUNNING] == 1 and counts[TrialState.FAILED] == 0
        running = storage.get_trials(exp_id, states=[TrialState.RUNNING])
        assert [t.id for t in running] == [ids[2]]

    def test_experiments_are_isolated_and_deletable(self, storage: Storage) -> None:
        a = storage.create_experiment("a", {})
        b = storage.create_experiment("b", {})
        ta = ask(storage, a, _propose_x(0.0))
        assert ta is not None
        storage.add_report(ta.id, 1, {"m": 1.0})
        tb = ask(storage, b, _propose_x(0.0))
        assert tb is not None and tb.number == 0
        assert [t.id for t in storage.get_trials(b)] == [tb.id]
        storage.delete_experiment("a")
        assert storage.list_experiments() == ["b"]
        assert len(storage.get_trials(b)) == 1

    def test_reopen_sees_everything(self, storage: Storage, reopen: Reopen) -> None:
        exp_id = storage.create_experiment("e", {"k": 1})
        t = ask(storage, exp_id, _propose_x(0.0))
        assert t is not None
        storage.add_report(t.id, 1, {"acc": 0.3})
        again = reopen(storage)
        if again is None:
            return  # this backend's data ends with its object
        try:
            assert again.get_experiment("e") == (exp_id, {"k": 1})
            assert again.get_trial(t.id).reports[0].metrics == {"acc": 0.3}
        finally:
            again.close()

    def test_thousands_of_trials_need_no_growing_query(self, storage: Storage) -> None:
        # Optuna users hit "too many SQL variables" near 1,000 trials: no query of
        # ours may bind one variable per trial.
        exp_id = storage.create_experiment("big", {})
        n = 1100
        for i in range(n):
            storage.enqueue(exp_id, {"i": i}, fidelity=1.0)
        served = ask(storage, exp_id, _propose_x(0.0))
        assert served is not None and served.params == {"i": 0}
        storage.add_report(served.id, 1, {"acc": 0.5})
        storage.finish(served.id, TrialState.COMPLETED, {"acc": 0.5})
        trials = storage.get_trials(exp_id)
        assert len(trials) == n and sorted(t.params["i"] for t in trials) == list(range(n))
        assert storage.count_trials(exp_id)[TrialState.QUEUED] == n - 1
        assert (
            len(storage.get_trials(exp_id, states=[TrialState.QUEUED, TrialState.RUNNING])) == n - 1
        )
        storage.delete_experiment("big")
        assert storage.list_experiments() == []
