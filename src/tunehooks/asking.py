"""The ask: which trial a worker starts next, on top of three storage primitives.

Queued trials come first (:meth:`~tunehooks.storage.Storage.claim_queued`). Otherwise
``propose`` (which may be slow: a GP fit) runs on a snapshot of the history outside
any lock, and :meth:`~tunehooks.storage.Storage.start_if_unchanged` starts its
suggestion only if no trial was added since the snapshot (nor the paused trial it
resumes resumed by another worker). When the history moved on, the ask looks again
with the new trials as pending; after :data:`OPTIMISTIC_TRIES` such tries it proposes
once more inside the experiment's write lock
(:meth:`~tunehooks.storage.Storage.start_locked`), so every ask ends, no two workers
start the same trial, and the lock is short in the common case. ``propose`` runs at
most ``OPTIMISTIC_TRIES + 1`` times per ask.
"""

from __future__ import annotations

from tunehooks.storage.base import ProposeFn, Storage
from tunehooks.trial import TrialRecord, TrialState

__all__ = ["OPTIMISTIC_TRIES", "ask"]

OPTIMISTIC_TRIES = 2
"""Proposals on a snapshot before the last one is made inside the write lock."""


def ask(
    storage: Storage, experiment_id: int, propose: ProposeFn, *, worker_id: str | None = None
) -> TrialRecord | None:
    """Start the next trial: a queued one, else ``propose``'s suggestion (``None``:
    ``propose`` said the budget is spent).

    Example:
        >>> from tunehooks.storage.memory import MemoryStorage
        >>> from tunehooks.trial import Suggestion
        >>> store = MemoryStorage()
        >>> exp_id = store.create_experiment("demo", {})
        >>> first = ask(store, exp_id, lambda history: Suggestion({"x": len(history)}))
        >>> first.number, first.params, first.state.value
        (0, {'x': 0}, 'RUNNING')
    """
    for _ in range(OPTIMISTIC_TRIES):
        history = storage.get_trials(experiment_id)
        if any(t.state is TrialState.QUEUED for t in history):
            claimed = storage.claim_queued(experiment_id, worker_id=worker_id)
            if claimed is not None:
                return claimed
            continue  # another worker took it: look again
        last = max((t.number for t in history), default=-1)
        started = storage.start_if_unchanged(
            experiment_id, propose(history), last_number=last, worker_id=worker_id
        )
        if not started.changed:
            return started.trial
    return storage.start_locked(experiment_id, propose, worker_id=worker_id)
