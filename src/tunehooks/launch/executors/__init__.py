"""Where the launcher's trials run: processes of this machine (:class:`LocalExecutor`)
or, past one machine, tasks of a Ray cluster (:mod:`tunehooks.launch.executors.ray`).

An executor starts a trial's command with its environment and hands back a
:class:`TrialHandle`: the launcher reads its output lines, asks whether it ended,
and stops it. What the trial sees (its arguments, ``TUNEHOOKS_*`` variables,
``CUDA_VISIBLE_DEVICES``) is the same whichever executor runs it.
"""

from __future__ import annotations

from tunehooks.launch.executors.base import Executor, TrialHandle
from tunehooks.launch.executors.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "TrialHandle"]
