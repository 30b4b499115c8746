"""The storage conformance suite: every backend must pass it.

Subclass :class:`StorageConformance` in a test module and provide a
``storage_url`` fixture giving a fresh, empty database URL::

    class TestSQLite(StorageConformance):
        @pytest.fixture
        def storage_url(self, tmp_path):
            return f"sqlite:///{tmp_path / 'db.sqlite'}"
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence

import pytest

from tunehooks.storage import DuplicateExperimentError, ExperimentNotFoundError, StorageError
from tunehooks.storage.sql import SQLStorage
from tunehooks.trial import Report, Suggestion, TrialRecord, TrialState, TrialStateError

__all__ = ["StorageConformance"]


def _propose_x(x: float) -> object:
    def propose(history: Sequence[TrialRecord]) -> Suggestion | None:
        return Suggestion({"x": x + len(history)}, fidelity=3.0)

    return propose


class StorageConformance:
    """Behaviour every storage backend must show."""

    @pytest.fixture
    def store(self, storage_url: str) -> Iterator[SQLStorage]:
        s = SQLStorage(storage_url)
        yield s
        s.close()

    def test_experiment_roundtrip_and_duplicates(self, store: SQLStorage) -> None:
        config = {"space": {"a": [1, 2.5, "x"]}, "nan": None}
        exp_id = store.create_experiment("e1", config)
        assert store.get_experiment("e1") == (exp_id, config)
        with pytest.raises(DuplicateExperimentError, match="already exists"):
            store.create_experiment("e1", {})
        with pytest.raises(ExperimentNotFoundError, match="known: \\['e1'\\]"):
            store.get_experiment("nope")
        store.create_experiment("e2", {})
        assert store.list_experiments() == ["e1", "e2"]
        store.update_experiment_config(exp_id, {**config, "budget": {"trials": 9}})
        assert store.get_experiment("e1") == (exp_id, {**config, "budget": {"trials": 9}})
        with pytest.raises(ExperimentNotFoundError):
            store.update_experiment_config(10_000, {})

    def test_ask_numbers_trials_and_passes_history(self, store: SQLStorage) -> None:
        exp_id = store.create_experiment("e", {})
        seen: list[int] = []

        def propose(history: Sequence[TrialRecord]) -> Suggestion | None:
            seen.append(len(history))
            return None if len(history) >= 3 else Suggestion({"i": len(history)})

        trials = [store.ask(exp_id, propose, worker_id="w") for _ in range(4)]
        assert [t.number for t in trials[:3] if t] == [0, 1, 2]
        assert trials[3] is None
        assert seen == [0, 1, 2, 3]
        t0 = trials[0]
        assert t0 is not None
        assert t0.state is TrialState.RUNNING and t0.worker_id == "w" and t0.params == {"i": 0}
        assert t0.started_at is not None and t0.heartbeat_at is not None

    def test_queued_trials_are_served_first(self, store: SQLStorage) -> None:
        exp_id = store.create_experiment("e", {})
        q = store.enqueue(exp_id, {"x": 42}, fidelity=9.0)
        assert q.state is TrialState.QUEUED
        t = store.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
        assert t is not None and t.id == q.id and t.params == {"x": 42} and t.fidelity == 9.0
        assert t.state is TrialState.RUNNING
        t2 = store.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
        assert t2 is not None and t2.params == {"x": 1.0} and t2.number == 1

    def test_reports_are_stored_in_order_and_upserted(self, store: SQLStorage) -> None:
        exp_id = store.create_experiment("e", {})
        t = store.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
        assert t is not None
        previous = [
            store.add_report(t.id, step, {"acc": step / 10, "loss": float("nan")})
            for step in (2, 1, 3)
        ]
        # each write says the trial's number and the highest step stored before it
        assert previous == [(t.number, None), (t.number, 2), (t.number, 2)]
        assert store.add_report(t.id, 3, {"acc": 0.99}).previous_step == 2  # an upsert
        reps = store.get_trial(t.id).reports
        assert [r.step for r in reps] == [1, 2, 3]
        assert reps[2].metrics == {"acc": 0.99}
        assert math.isnan(reps[0].metrics["loss"])
        # reports come back with every trial of the experiment
        (rec,) = store.get_trials(exp_id)
        assert [r.step for r in rec.reports] == [1, 2, 3]
        assert store.get_trials(exp_id, with_reports=False)[0].reports == ()

    def test_several_reports_are_written_in_one_call(self, store: SQLStorage) -> None:
        exp_id = store.create_experiment("e", {})
        t = store.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
        assert t is not None
        assert store.add_reports(t.id, [Report(1, {"acc": 0.1})]) == (t.number, None)
        batch = [Report(step, {"acc": step / 10}, time=1000.0 + step) for step in (2, 3, 4)]
        assert store.add_reports(t.id, batch) == (t.number, 1)  # the step before the batch
        assert [(r.step, r.metrics["acc"]) for r in store.get_trial(t.id).reports] == [
            (1, 0.1),
            (2, 0.2),
            (3, 0.3),
            (4, 0.4),
        ]
        assert [r.time for r in store.get_trial(t.id).reports][1:] == [1002.0, 1003.0, 1004.0]
        with pytest.raises(ValueError, match="at least one"):
            store.add_reports(t.id, [])
        store.finish(t.id, TrialState.PRUNED)
        with pytest.raises(TrialStateError, match="PRUNED"):
            store.add_reports(t.id, [Report(5, {"acc": 0.5}), Report(6, {"acc": 0.6})])
        assert len(store.get_trial(t.id).reports) == 4  # nothing of the refused batch

    def test_finish_can_write_the_last_reports_with_the_end(self, store: SQLStorage) -> None:
        exp_id = store.create_experiment("e", {})
        t = store.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
        assert t is not None
        store.add_report(t.id, 1, {"acc": 0.1})
        last = [Report(2, {"acc": 0.2}), Report(3, {"acc": 0.3})]
        done = store.finish(t.id, TrialState.COMPLETED, {"acc": 0.3}, reports=last)
        assert done.state is TrialState.COMPLETED and [r.step for r in done.reports] == [1, 2, 3]
        with pytest.raises(TrialStateError, match="already COMPLETED"):
            store.finish(t.id, TrialState.PRUNED, reports=[Report(4, {"acc": 0.4})])
        assert [r.step for r in store.get_trial(t.id).reports] == [1, 2, 3]  # both or neither

    def test_finish_with_a_known_snapshot_reads_nothing_back(self, store: SQLStorage) -> None:
        exp_id = store.create_experiment("e", {})
        t = store.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
        assert t is not None
        done = store.finish(
            t.id, TrialState.PRUNED, {"acc": 0.2}, reports=[Report(1, {"acc": 0.2})], known=t
        )
        stored = store.get_trial(t.id)
        assert (done.state, done.values, done.error) == (stored.state, stored.values, None)
        assert done.finished_at == stored.finished_at and done.params == stored.params
        assert [r.step for r in stored.reports] == [1]

    def test_history_reloads_see_every_new_report(self, store: SQLStorage) -> None:
        exp_id = store.create_experiment("e", {})
        done = store.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
        running = store.ask(exp_id, _propose_x(1.0))  # type: ignore[arg-type]
        assert done is not None and running is not None
        store.add_report(done.id, 1, {"acc": 0.1})
        store.finish(done.id, TrialState.COMPLETED, {"acc": 0.1})
        for step in range(1, 4):
            store.add_report(running.id, step, {"acc": step / 10})
            first, second = store.get_trials(exp_id)
            assert [r.step for r in first.reports] == [1]  # finished: never changes
            assert [r.step for r in second.reports] == list(range(1, step + 1))
        store.finish(running.id, TrialState.PRUNED)
        assert [len(t.reports) for t in store.get_trials(exp_id)] == [1, 3]
        assert [len(t.reports) for t in store.get_trials(exp_id, states=[TrialState.PRUNED])] == [3]

    def test_finish_is_guarded(self, store: SQLStorage) -> None:
        exp_id = store.create_experiment("e", {})
        t = store.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
        assert t is not None
        done = store.finish(t.id, TrialState.COMPLETED, {"acc": 0.5})
        assert done.state is TrialState.COMPLETED and done.values == {"acc": 0.5}
        assert done.finished_at is not None
        with pytest.raises(TrialStateError, match="already COMPLETED"):
            store.finish(t.id, TrialState.FAILED, error="late")
        with pytest.raises(TrialStateError):
            store.add_report(t.id, 9, {"acc": 1.0})
        with pytest.raises(ValueError):
            store.finish(t.id, TrialState.RUNNING)
        with pytest.raises(StorageError):
            store.get_trial(10_000)

    def test_failed_trial_keeps_error_and_reports(self, store: SQLStorage) -> None:
        exp_id = store.create_experiment("e", {})
        t = store.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
        assert t is not None
        store.add_report(t.id, 1, {"acc": 0.1})
        rec = store.finish(t.id, TrialState.FAILED, error="RuntimeError: boom")
        assert rec.error == "RuntimeError: boom" and len(rec.reports) == 1

    def test_requeue_makes_a_new_attempt_and_keeps_the_old(self, store: SQLStorage) -> None:
        exp_id = store.create_experiment("e", {})
        t = store.ask(exp_id, _propose_x(5.0))  # type: ignore[arg-type]
        assert t is not None
        store.add_report(t.id, 1, {"acc": 0.1})
        retry = store.requeue(t.id, error="worker vanished")
        assert retry.state is TrialState.QUEUED and retry.attempt == 1
        assert retry.params == t.params and retry.fidelity == t.fidelity
        old = store.get_trial(t.id)
        assert old.state is TrialState.FAILED and old.error == "worker vanished"
        assert len(old.reports) == 1
        nxt = store.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
        assert nxt is not None and nxt.id == retry.id

    def test_heartbeat_and_stale_trials(self, store: SQLStorage) -> None:
        exp_id = store.create_experiment("e", {})
        a = store.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
        b = store.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
        assert a is not None and b is not None
        time.sleep(0.3)
        store.heartbeat([a.id])
        stale = store.stale_trials(exp_id, older_than=0.2)
        assert [t.id for t in stale] == [b.id]
        assert store.get_trial(a.id).heartbeat_at > a.heartbeat_at  # type: ignore[operator]

    def test_counts_and_filters(self, store: SQLStorage) -> None:
        exp_id = store.create_experiment("e", {})
        ids = []
        for _ in range(3):
            t = store.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
            assert t is not None
            ids.append(t.id)
        store.finish(ids[0], TrialState.COMPLETED, {"acc": 1.0})
        store.finish(ids[1], TrialState.PRUNED)
        counts = store.count_trials(exp_id)
        assert counts[TrialState.COMPLETED] == 1 and counts[TrialState.PRUNED] == 1
        assert counts[TrialState.RUNNING] == 1 and counts[TrialState.FAILED] == 0
        running = store.get_trials(exp_id, states=[TrialState.RUNNING])
        assert [t.id for t in running] == [ids[2]]

    def test_experiments_are_isolated_and_deletable(self, store: SQLStorage) -> None:
        a = store.create_experiment("a", {})
        b = store.create_experiment("b", {})
        ta = store.ask(a, _propose_x(0.0))  # type: ignore[arg-type]
        assert ta is not None
        store.add_report(ta.id, 1, {"m": 1.0})
        tb = store.ask(b, _propose_x(0.0))  # type: ignore[arg-type]
        assert tb is not None and tb.number == 0
        assert [t.id for t in store.get_trials(b)] == [tb.id]
        store.delete_experiment("a")
        assert store.list_experiments() == ["b"]
        assert len(store.get_trials(b)) == 1

    def test_reopen_sees_everything(self, storage_url: str) -> None:
        s1 = SQLStorage(storage_url)
        exp_id = s1.create_experiment("e", {"k": 1})
        t = s1.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
        assert t is not None
        s1.add_report(t.id, 1, {"acc": 0.3})
        s1.close()
        if storage_url == "sqlite://":
            return  # an in-memory database ends with its engine
        s2 = SQLStorage(storage_url)
        assert s2.get_experiment("e") == (exp_id, {"k": 1})
        assert s2.get_trial(t.id).reports[0].metrics == {"acc": 0.3}
        s2.close()

    def test_thousands_of_trials_need_no_growing_query(self, store: SQLStorage) -> None:
        # Optuna users hit "too many SQL variables" near 1,000 trials: no query of
        # ours may bind one variable per trial.
        exp_id = store.create_experiment("big", {})
        n = 1100
        for i in range(n):
            store.enqueue(exp_id, {"i": i}, fidelity=1.0)
        served = store.ask(exp_id, _propose_x(0.0))  # type: ignore[arg-type]
        assert served is not None and served.params == {"i": 0}
        store.add_report(served.id, 1, {"acc": 0.5})
        store.finish(served.id, TrialState.COMPLETED, {"acc": 0.5})
        trials = store.get_trials(exp_id)
        assert len(trials) == n and sorted(t.params["i"] for t in trials) == list(range(n))
        assert store.count_trials(exp_id)[TrialState.QUEUED] == n - 1
        assert (
            len(store.get_trials(exp_id, states=[TrialState.QUEUED, TrialState.RUNNING])) == n - 1
        )
        store.delete_experiment("big")
        assert store.list_experiments() == []
