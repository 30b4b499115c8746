"""DDP ranks and ``ask_loop()``: every rank trains the trial rank 0 asked for.

Under DDP every rank runs the training script, so ``for trial in exp.ask_loop()``
runs on every rank. Only rank 0 may ask for a trial (and settle it); every other
rank must train the same one. When a rank reaches the ask, a process group
often does not exist yet (Lightning starts its ranks and the group inside
``fit``; torchrun starts the ranks before anything), so the hand-over is, keyed
by (experiment, loop iteration ``k``), the first of:

1. the launcher's assignment: with ``TUNEHOOKS_TRIAL_ID`` set (``tunehooks
   launch``) for this experiment, every rank yields that trial, once;
2. a process group that exists on every rank (after a first Lightning fit, or
   after ``fabric.launch()``): rank 0 broadcasts the trial's id;
3. torchrun's agent store (``TORCHELASTIC_USE_AGENT_STORE=True``): the elastic
   agent hosts a TCP store at ``MASTER_ADDR:MASTER_PORT`` before any rank starts
   and for as long as the job runs; rank 0 sets ``tunehooks/<experiment>.<k>``
   to the trial's id ("" once the budget is spent), the others wait for the key;
4. the storage: rank 0 asks with a worker id ending in ``/ddp-<job>.<k>``, where
   ``<job>`` is ``$TUNEHOOKS_DDP_JOB`` (rank 0 sets it, ``<pid>-<random>``, when
   it is unset, so the ranks Lightning starts inside ``fit`` inherit it); the
   other ranks poll the experiment's trials for that worker id. They end their
   loop when the budget is spent or rank 0's process is gone. Any other launcher
   (Slurm's ``srun``, ``mpirun``, several nodes) works by setting
   ``TUNEHOOKS_DDP_JOB`` to one value per job on every rank.

Every rank takes the same branch at the same iteration: the environment and the
process group's existence are the same on all of them.
A rank other than 0 skips a trial that is already finished when it finds it
(rank 0 trained it alone, before the other ranks existed).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tunehooks.trial import Trial, TrialState

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment
    from tunehooks.trial import TrialRecord

__all__ = ["ENV_DDP_JOB", "TrialHandoff", "process_rank"]

ENV_DDP_JOB = "TUNEHOOKS_DDP_JOB"
WAIT_S = 1800.0  # how long a rank waits for rank 0's next trial
_POLL_S = 0.2
_index: dict[int, int] = {}  # experiment id -> loop iterations so far in this process
_agent_store: Any = None


def _int_env(name: str) -> int:
    text = os.environ.get(name, "").strip()
    return int(text) if text.isdigit() else 0


def process_rank() -> int:
    """This process's global DDP rank, read from the environment (0 outside DDP).

    ``RANK`` (torchrun, Lightning's own ranks after launch), else ``LOCAL_RANK``
    plus ``NODE_RANK`` (the ranks Lightning starts itself).

    Example:
        >>> process_rank() >= 0
        True
    """
    if os.environ.get("RANK", "").strip().isdigit():
        return _int_env("RANK")
    local, node = _int_env("LOCAL_RANK"), _int_env("NODE_RANK") or _int_env("GROUP_RANK")
    return node * max(1, _int_env("LOCAL_WORLD_SIZE")) + local if node else local


def _under_torchrun() -> bool:
    return (
        os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
        and bool(os.environ.get("MASTER_ADDR"))
        and _int_env("MASTER_PORT") > 0
    )


def _store() -> Any:
    """A client of torchrun's agent store, prefixed for tunehooks and this restart."""
    global _agent_store
    if _agent_store is None:
        from datetime import timedelta

        import torch.distributed as dist

        client = dist.TCPStore(  # type: ignore[attr-defined]
            os.environ["MASTER_ADDR"],
            _int_env("MASTER_PORT"),
            is_master=False,
            timeout=timedelta(seconds=WAIT_S),
        )
        restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        prefix = f"tunehooks/{restart}/"
        _agent_store = dist.PrefixStore(prefix, client)  # type: ignore[attr-defined]
    return _agent_store


def _group_ready() -> bool:
    """A torch.distributed process group of several ranks exists (on every rank alike)."""
    import torch.distributed as dist

    return bool(dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1)


def _broadcast_id(trial_id: int | None) -> int | None:
    import torch.distributed as dist

    box: list[int | None] = [trial_id]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TrialHandoff:
    """The trials one ``ask_loop()`` loop yields on this rank (see the module docstring).

    ``writes`` is True on rank 0, which asks for, settles and abandons trials;
    other ranks only read.
    """

    def __init__(self, exp: Experiment, *, worker_id: str, assigned: int | None) -> None:
        self.exp = exp
        self.worker_id = worker_id
        self.rank = process_rank()
        self.writes = self.rank == 0
        self._assigned = assigned
        if self._assigned is None and not _under_torchrun() and self.writes:
            leader = os.environ.get(ENV_DDP_JOB, "").split("-", 1)[0]
            if not leader or (leader.isdigit() and int(leader) != os.getpid()):
                # unset, or inherited from another rank 0 (a parent process): this job's own
                os.environ[ENV_DDP_JOB] = f"{os.getpid()}-{secrets.token_hex(4)}"

    def next_trial(self) -> Trial | None:
        """The next trial to train on this rank; None when the loop ends."""
        if self._assigned is not None:  # a launcher's trial: once, on every rank
            trial_id, self._assigned = self._assigned, -1
            return None if trial_id < 0 else self.exp.trial_handle(trial_id)
        while True:
            k = _index.get(self.exp.id, 0)
            _index[self.exp.id] = k + 1
            key = f"{self.exp.id}.{k}"
            if self.writes:
                return self._ask(key)
            record = self._receive(key)
            if record is None:
                return None
            if not record.state.is_stopped:
                return Trial(self.exp, record)
            # rank 0 trained it before this rank existed: on to rank 0's next one

    def _ask(self, key: str) -> Trial | None:
        if _group_ready():
            trial = self.exp.ask(worker_id=self.worker_id)
            _broadcast_id(None if trial is None else trial.id)
            return trial
        if _under_torchrun():
            trial = self.exp.ask(worker_id=self.worker_id)
            _store().set(key, "" if trial is None else str(trial.id))
            return trial
        job = os.environ.get(ENV_DDP_JOB, "")
        return self.exp.ask(worker_id=f"{self.worker_id}/ddp-{job}.{key}")

    def _receive(self, key: str) -> TrialRecord | None:
        if _group_ready():
            trial_id = _broadcast_id(None)
            return None if trial_id is None else self.exp.storage.get_trial(trial_id)
        if _under_torchrun():
            text = _store().get(key).decode()
            return None if not text else self.exp.storage.get_trial(int(text))
        job = os.environ.get(ENV_DDP_JOB, "")
        if not job:
            from tunehooks.context import NoTrialError

            raise NoTrialError(
                f"DDP rank {self.rank}: exp.ask_loop() cannot learn which trial rank 0 asked for: "
                f"start the ranks with torchrun, with Lightning's own launch, or set {ENV_DDP_JOB} "
                "to one value per job on every rank"
            )
        suffix = f"/ddp-{job}.{key}"
        leader = job.split("-", 1)[0]
        leader_pid = int(leader) if leader.isdigit() else None
        return _poll(
            lambda: self._find(suffix),
            gone=lambda: leader_pid is not None and not _alive(leader_pid),
            what=f"rank 0's trial {key} (worker id ending in {suffix!r})",
        )

    def _find(self, suffix: str) -> tuple[TrialRecord | None, bool]:
        """The trial with this worker id, and whether none will come (the budget is spent)."""
        history = self.exp.storage.get_trials(self.exp.id, with_reports=False)
        for t in history:
            if (t.worker_id or "").endswith(suffix):
                return t, False
        if any(t.state is TrialState.QUEUED for t in history):
            return None, False
        return None, self.exp.budget_exhausted(self.exp.storage.get_trials(self.exp.id))


def _poll(
    find: Callable[[], tuple[TrialRecord | None, bool]], *, gone: Callable[[], bool], what: str
) -> TrialRecord | None:
    deadline = time.monotonic() + WAIT_S
    while True:
        found, done = find()
        if found is not None or done or gone():
            return found
        if time.monotonic() > deadline:
            from tunehooks.context import NoTrialError

            raise NoTrialError(f"waited {WAIT_S:.0f}s for {what}; none came")
        time.sleep(_POLL_S)


def assigned_trial(exp: Experiment) -> int | None:
    """The trial id a launcher assigned to this process for ``exp`` (``TUNEHOOKS_TRIAL_ID``)."""
    from tunehooks.context import ENV_EXPERIMENT, ENV_TRIAL_ID

    text = os.environ.get(ENV_TRIAL_ID, "").strip()
    if not text.isdigit() or os.environ.get(ENV_EXPERIMENT) != exp.name:
        return None
    return int(text)


def wait_for_experiment(load: Callable[[], Experiment], *, name: str) -> Experiment:
    """On a rank other than 0: the experiment rank 0 creates (it may not exist yet)."""
    from tunehooks.storage import ExperimentNotFoundError

    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            return load()
        except ExperimentNotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(_POLL_S)
