"""``current_trial()``: the trial this process should train.

A launcher assigns a trial through the environment (``TUNEHOOKS_STORAGE``,
``TUNEHOOKS_EXPERIMENT``, ``TUNEHOOKS_TRIAL_ID``); every rank of a DDP job
reads the same variables and so trains the same configuration. Without a
trial id, rank 0 asks the experiment for the next trial and the other DDP ranks
get that one (see :mod:`tunehooks._ranks`).
"""

from __future__ import annotations

import os

from tunehooks._ranks import TrialHandoff
from tunehooks.experiment import Experiment, default_worker_id
from tunehooks.trial import Trial

__all__ = ["ENV_EXPERIMENT", "ENV_STORAGE", "ENV_TRIAL_ID", "NoTrialError", "current_trial"]

ENV_STORAGE = "TUNEHOOKS_STORAGE"
ENV_EXPERIMENT = "TUNEHOOKS_EXPERIMENT"
ENV_TRIAL_ID = "TUNEHOOKS_TRIAL_ID"

_current: dict[tuple[int, str, str, str], Trial] = {}


class NoTrialError(RuntimeError):
    """No trial could be found for this process."""


def current_trial(experiment: str | None = None, *, storage: str | None = None) -> Trial:
    """The trial assigned to this process, or else the next one the experiment hands out
    (under DDP: the one rank 0 was handed, on every rank).

    The same trial is returned on every call in one process until it finishes.
    """
    name = experiment or os.environ.get(ENV_EXPERIMENT)
    url = storage or os.environ.get(ENV_STORAGE) or ""
    if not name:
        raise NoTrialError(
            "no trial for this process: run it under `tunehooks launch`, set "
            f"{ENV_EXPERIMENT} (and {ENV_STORAGE}), or pass a trial to the callback"
        )
    trial_id = os.environ.get(ENV_TRIAL_ID, "")
    key = (os.getpid(), url, name, trial_id)
    trial = _current.get(key)
    if trial is not None and not trial.is_finished:
        return trial
    exp = Experiment.load(name, storage=url or None)
    if trial_id:
        try:
            trial = exp.trial_handle(int(trial_id))
        except ValueError as e:
            raise NoTrialError(f"{ENV_TRIAL_ID}={trial_id!r}: {e}") from None
    else:
        asked = TrialHandoff(exp, worker_id=default_worker_id(), assigned=None).next_trial()
        if asked is None:
            raise NoTrialError(f"experiment {name!r} has spent its budget; no trial left")
        trial = asked
    _current[key] = trial
    return trial
