"""GPU detection and slots: which devices each parallel trial gets.

GPUs come from ``CUDA_VISIBLE_DEVICES`` when it is set (indices or UUIDs; empty
or ``-1`` means none), else from ``nvidia-smi -L``. They are handed out in
slots of ``gpus_per_trial``; with no GPU (or ``gpus_per_trial: 0``) every
worker runs on the CPU.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Slot", "detect_gpus", "make_slots"]

_NVIDIA_SMI_LINE = re.compile(r"^GPU (\d+):")


@dataclass(frozen=True)
class Slot:
    """A place to run one trial: its index and the GPUs it owns (none: CPU).

    Example:
        >>> Slot(1, ("2", "3")).cuda_visible_devices, Slot(0).describe()
        ('2,3', 'cpu')
    """

    index: int
    gpus: tuple[str, ...] = ()

    @property
    def cuda_visible_devices(self) -> str | None:
        """The value of ``CUDA_VISIBLE_DEVICES`` for the trial (``None``: leave it alone)."""
        return ",".join(self.gpus) if self.gpus else None

    def describe(self) -> str:
        return f"gpu {','.join(self.gpus)}" if self.gpus else "cpu"


def detect_gpus(
    env: Mapping[str, str] | None = None, *, nvidia_smi: str | None = "nvidia-smi"
) -> list[str]:
    """The visible GPUs, as the strings to put in ``CUDA_VISIBLE_DEVICES``."""
    env = os.environ if env is None else env
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        items = [d.strip() for d in visible.split(",") if d.strip()]
        if not items or items[0] == "-1":
            return []
        return items
    exe = shutil.which(nvidia_smi) if nvidia_smi else None
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "-L"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [m.group(1) for line in out.splitlines() if (m := _NVIDIA_SMI_LINE.match(line.strip()))]


def make_slots(
    *,
    workers: int | None,
    gpus_per_trial: int,
    devices: Sequence[str] | None,
) -> tuple[list[Slot], str | None]:
    """The worker slots, and a note when the request could not be met as asked.

    ``workers=None``: one worker per GPU slot (one worker on a CPU-only machine).
    """
    gpus = list(devices or [])
    if gpus_per_trial == 0 or not gpus:
        n = workers or 1
        note = None
        if gpus_per_trial > 0 and not gpus:
            note = f"no GPU found: running {n} worker{'s' if n > 1 else ''} on the CPU"
        return [Slot(i) for i in range(n)], note
    if gpus_per_trial > len(gpus):
        raise ValueError(
            f"resources.gpus_per_trial: {gpus_per_trial} GPUs per trial, but only {len(gpus)} "
            f"are visible ({','.join(gpus)}); lower gpus_per_trial"
        )
    groups = [
        tuple(gpus[i : i + gpus_per_trial])
        for i in range(0, len(gpus) - gpus_per_trial + 1, gpus_per_trial)
    ]
    note = None
    if workers is not None and workers > len(groups):
        note = (
            f"resources.workers={workers}, but {len(gpus)} GPUs make {len(groups)} slots of "
            f"{gpus_per_trial}: running {len(groups)} workers"
        )
    n = len(groups) if workers is None else min(workers, len(groups))
    return [Slot(i, groups[i]) for i in range(n)], note
