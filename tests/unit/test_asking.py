"""The ask on the storage primitives: collisions with other workers, the last try in the lock."""

from __future__ import annotations

from collections.abc import Sequence

from tunehooks.asking import OPTIMISTIC_TRIES, ask
from tunehooks.storage.memory import MemoryStorage
from tunehooks.trial import Suggestion, TrialRecord, TrialState


def test_a_collision_proposes_again_with_the_new_trial_pending() -> None:
    store = MemoryStorage()
    exp_id = store.create_experiment("e", {})
    seen: list[int] = []

    def propose(history: Sequence[TrialRecord]) -> Suggestion:
        seen.append(len(history))
        if len(seen) == 1:  # another worker starts a trial between the snapshot and the insert
            store.start_if_unchanged(exp_id, Suggestion({"other": 1}), last_number=-1)
        return Suggestion({"x": len(history)})

    trial = ask(store, exp_id, propose)
    assert seen == [0, 1]  # proposed again, seeing the other worker's trial as pending
    assert trial is not None and trial.number == 1 and trial.params == {"x": 1}


def test_after_every_optimistic_try_collides_the_last_proposal_is_made_in_the_lock() -> None:
    store = MemoryStorage()
    exp_id = store.create_experiment("e", {})
    seen: list[int] = []

    def propose(history: Sequence[TrialRecord]) -> Suggestion:
        seen.append(len(history))
        if len(seen) <= OPTIMISTIC_TRIES:  # a busy experiment: every snapshot goes stale
            store.start_if_unchanged(exp_id, Suggestion({"other": 1}), last_number=len(history) - 1)
        return Suggestion({"x": len(history)})

    trial = ask(store, exp_id, propose)
    assert seen == list(range(OPTIMISTIC_TRIES + 1))  # at most one proposal more, in the lock
    assert trial is not None and trial.number == OPTIMISTIC_TRIES


class _Racing(MemoryStorage):
    """Another worker claims the queued trial between this worker's snapshot and claim."""

    raced = False

    def claim_queued(
        self, experiment_id: int, *, worker_id: str | None = None
    ) -> TrialRecord | None:
        if not self.raced:
            self.raced = True
            super().claim_queued(experiment_id, worker_id="other")
        return super().claim_queued(experiment_id, worker_id=worker_id)


def test_a_queued_trial_another_worker_claimed_first_is_not_the_end_of_the_budget() -> None:
    store = _Racing()
    exp_id = store.create_experiment("e", {})
    store.enqueue(exp_id, {"x": 42})
    trial = ask(store, exp_id, lambda history: Suggestion({"x": len(history)}), worker_id="me")
    assert store.raced
    assert trial is not None and trial.number == 1 and trial.params == {"x": 1}
    assert [t.worker_id for t in store.get_trials(exp_id)] == ["other", "me"]
    assert all(t.state is TrialState.RUNNING for t in store.get_trials(exp_id))
