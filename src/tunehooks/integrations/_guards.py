"""Checks that keep an integration from giving a silently wrong result.

Pure helpers of :class:`~tunehooks.integrations._common.Reporter`: which metric
name the experiment optimizes against the names the training logs, which errors
are a DDP rank's echo of another rank's failure, and how a reporter crosses a
process boundary (``strategy="ddp_spawn"`` pickles the callbacks).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunehooks.trial import Trial

__all__ = [
    "PEER_WAIT_S",
    "is_peer_echo",
    "objective_alias",
    "objective_names",
    "portable_trial",
    "reload_trial",
]

PEER_WAIT_S = 10.0
"""How long rank 0, failing with a connection error, waits for another rank's real error."""

_ECHO_TYPES = {"DistBackendError", "DistNetworkError", "DistError"}
_ECHO_TEXT = (
    "gloo",
    "NCCL",
    "nccl",
    "Connection closed by peer",
    "Connection reset by peer",
    "Broken pipe",
    "ProcessGroup",
)


def objective_names(trial: Trial) -> tuple[str, ...]:
    """The optimized metrics of the trial's experiment (none when it is not known)."""
    metrics = getattr(trial._sink, "objectives", None)
    if not isinstance(metrics, Sequence):
        return ()
    return tuple(str(m.name) for m in metrics)


def objective_alias(
    objectives: Sequence[str],
    monitor: Sequence[str],
    metrics: Mapping[str, float],
    *,
    where: str,
) -> tuple[str, str] | None:
    """Check a first report against the experiment's optimized metrics.

    Returns ``(monitored, objective)`` when the one optimized metric is missing
    but the one monitored metric is there: every report then carries the
    monitored value under the objective's name too (as Optuna's callbacks do).
    Raises ``MissingMetricError`` naming both names when an optimized metric is
    missing otherwise, so the training stops at its first report instead of
    running to the end and failing there.

    Example:
        >>> objective_alias(["val_acc"], ["val_accuracy"], {"val_accuracy": 0.5}, where="x")
        ('val_accuracy', 'val_acc')
    """
    from tunehooks.integrations._common import MissingMetricError

    missing = [o for o in objectives if o not in metrics]
    if not missing:
        return None
    if len(objectives) == 1 and len(monitor) == 1 and monitor[0] in metrics:
        return monitor[0], objectives[0]
    names = ", ".join(repr(m) for m in sorted(metrics)) or "none"
    watched = f" (monitor={list(monitor)!r})" if monitor else ""
    raise MissingMetricError(
        f"the experiment optimizes {missing[0]!r}, which is not among the metrics of {where} "
        f"(they are: {names}){watched}: log it under that name, or pass monitor= the one "
        f"name it is logged as, to report it as {missing[0]!r}"
    )


def is_peer_echo(error: BaseException) -> bool:
    """True for an error a DDP rank gets because another rank failed (its connection
    closed), e.g. gloo's ``Connection closed by peer``.

    Example:
        >>> is_peer_echo(RuntimeError("[../gloo/transport/tcp/pair.cc:534] Connection closed by peer"))
        True
    """
    if any(c.__name__ in _ECHO_TYPES for c in type(error).__mro__):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and any(k in text for k in _ECHO_TEXT)


def portable_trial(trial: Trial) -> tuple[str, str, int, Any]:
    """What a pickled reporter keeps of its trial: the storage URL, the experiment,
    the trial id and a scheduler given to the experiment in this process, if any."""
    exp = trial._sink
    url = str(exp.storage.url)  # type: ignore[attr-defined]
    if url in ("sqlite://", "sqlite:///:memory:"):
        raise pickle.PicklingError(
            f"trial {trial.number} lives in an in-memory SQLite database, which another "
            "process cannot open: give the experiment a file or server storage "
            "(e.g. storage='sqlite:///tunehooks.db') to use strategy='ddp_spawn'"
        )
    scheduler = getattr(exp, "_scheduler", None)
    if scheduler is not None and type(scheduler).__module__.startswith("tunehooks."):
        scheduler = None  # built from the stored settings again in the other process
    return url, str(exp.name), trial.id, scheduler  # type: ignore[attr-defined]


def reload_trial(ref: tuple[str, str, int, Any]) -> Trial:
    """The trial :func:`portable_trial` describes, opened in this process."""
    from tunehooks.experiment import Experiment

    url, name, trial_id, scheduler = ref
    return Experiment.load(name, storage=url, scheduler=scheduler).trial_handle(trial_id)
