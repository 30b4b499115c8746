"""GPU detection and slots: which devices each parallel trial gets.

GPUs come from ``CUDA_VISIBLE_DEVICES`` when it is set (indices or UUIDs; empty
or ``-1`` means none; as CUDA does, the devices after an invalid entry such as
``-1`` are not visible), else from ``nvidia-smi -L``: a GPU split into MIG
instances gives one device per instance (its ``MIG-`` UUID), any other GPU its
index, and trials then get ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` so CUDA numbers the
GPUs as ``nvidia-smi`` does. They are handed out in slots of ``gpus_per_trial``
(a fraction such as ``0.5`` puts two trials on each device); with no GPU (or
``gpus_per_trial: 0``) every worker runs on the CPU. Devices no slot uses are
said at start.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Detected", "Slot", "detect_devices", "detect_gpus", "make_slots", "parse_nvidia_smi"]

_GPU_LINE = re.compile(r"^GPU (\d+):")
_MIG_LINE = re.compile(r"^MIG\s+(\S+)\s+Device\s+(\d+):\s*\(UUID:\s*(MIG-[^)\s]+)\)")
_INVALID = re.compile(r"^-\d+$")
_MIN_SHARE = 1 / 64


@dataclass(frozen=True)
class Slot:
    """A place to run one trial: its index, the GPUs it owns (none: CPU), and how many
    trials share each of them (``gpus_per_trial: 0.5``: 2).

    Example:
        >>> Slot(1, ("2", "3")).cuda_visible_devices, Slot(0).describe()
        ('2,3', 'cpu')
        >>> Slot(3, ("0",), shared_by=2).describe()
        'gpu 0 (1/2)'
    """

    index: int
    gpus: tuple[str, ...] = ()
    shared_by: int = 1
    label: str | None = None  # shown instead of the devices (a cluster's slot: "ray")

    @property
    def cuda_visible_devices(self) -> str | None:
        """The value of ``CUDA_VISIBLE_DEVICES`` for the trial (``None``: leave it alone)."""
        return ",".join(self.gpus) if self.gpus else None

    def describe(self) -> str:
        if self.label is not None:
            return self.label
        if not self.gpus:
            return "cpu"
        share = f" (1/{self.shared_by})" if self.shared_by > 1 else ""
        return f"gpu {','.join(self.gpus)}{share}"


@dataclass(frozen=True)
class Detected:
    """The GPUs found: what goes in ``CUDA_VISIBLE_DEVICES`` for each, whether the
    indices are ``nvidia-smi``'s (then trials get ``CUDA_DEVICE_ORDER=PCI_BUS_ID``),
    and a note to show at start."""

    gpus: tuple[str, ...] = ()
    pci_order: bool = False
    note: str | None = None


def parse_nvidia_smi(text: str) -> list[str]:
    """The devices in the output of ``nvidia-smi -L``: a GPU's index, or the ``MIG-``
    UUIDs of the MIG instances listed under it (a GPU in MIG mode is used through them).

    Example:
        >>> parse_nvidia_smi('''GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5d5b)
        ...   MIG 3g.20gb     Device  0: (UUID: MIG-aa11)
        ...   MIG 3g.20gb     Device  1: (UUID: MIG-bb22)
        ... GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-7e6f)''')
        ['MIG-aa11', 'MIG-bb22', '1']
    """
    out: list[str] = []
    gpu: str | None = None
    migs: list[str] = []

    def close() -> None:
        if gpu is not None:
            out.extend(migs or [gpu])

    for raw in text.splitlines():
        line = raw.strip()
        m = _GPU_LINE.match(line)
        if m is not None:
            close()
            gpu, migs = m.group(1), []
            continue
        mig = _MIG_LINE.match(line)
        if mig is not None and gpu is not None:
            migs.append(mig.group(3))
    close()
    return out


def _visible(value: str) -> tuple[list[str], str | None]:
    """``CUDA_VISIBLE_DEVICES`` read as CUDA reads it: the entries before the first invalid one."""
    items = [d.strip() for d in value.split(",")]
    out: list[str] = []
    for item in items:
        if not item or _INVALID.match(item):
            break
        out.append(item)
    note = None
    rest = [d for d in items[len(out) :] if d]
    if out and rest:
        note = (
            f"CUDA_VISIBLE_DEVICES={value}: CUDA sees no device after {rest[0]!r}; "
            f"using {','.join(out)}"
        )
    return out, note


def detect_devices(
    env: Mapping[str, str] | None = None, *, nvidia_smi: str | None = "nvidia-smi"
) -> Detected:
    """The visible GPUs (see the module docstring)."""
    env = os.environ if env is None else env
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        gpus, note = _visible(visible)
        return Detected(tuple(gpus), note=note)
    exe = shutil.which(nvidia_smi, path=env.get("PATH")) if nvidia_smi else None
    if exe is None:
        return Detected()
    try:
        out = subprocess.run(
            [exe, "-L"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return Detected()
    gpus = parse_nvidia_smi(out)
    return Detected(tuple(gpus), pci_order=any(g.isdigit() for g in gpus))


def detect_gpus(
    env: Mapping[str, str] | None = None, *, nvidia_smi: str | None = "nvidia-smi"
) -> list[str]:
    """The visible GPUs, as the strings to put in ``CUDA_VISIBLE_DEVICES``."""
    return list(detect_devices(env, nvidia_smi=nvidia_smi).gpus)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def make_slots(
    *,
    workers: int | None,
    gpus_per_trial: float,
    devices: Sequence[str] | None,
) -> tuple[list[Slot], str | None]:
    """The worker slots, and a note when the request could not be met as asked or
    leaves GPUs idle.

    ``workers=None``: one worker per GPU slot (one worker on a CPU-only machine).

    Example:
        >>> slots, note = make_slots(workers=None, gpus_per_trial=2, devices=["0", "1", "2"])
        >>> [s.describe() for s in slots], note
        (['gpu 0,1'], 'resources.gpus_per_trial=2 on 3 GPUs: GPU 2 stays idle')
        >>> [s.describe() for s in make_slots(workers=None, gpus_per_trial=0.5,
        ...                                   devices=["0", "1"])[0]]
        ['gpu 0 (1/2)', 'gpu 1 (1/2)', 'gpu 0 (1/2)', 'gpu 1 (1/2)']
    """
    gpus = list(devices or [])
    if gpus_per_trial == 0 or not gpus:
        n = workers or 1
        note = None
        if gpus_per_trial > 0 and not gpus:
            note = f"no GPU found: running {_plural(n, 'worker')} on the CPU"
        return [Slot(i) for i in range(n)], note
    if gpus_per_trial < 1:
        if gpus_per_trial < _MIN_SHARE:
            raise ValueError(
                f"resources.gpus_per_trial: {gpus_per_trial:g} is below {_MIN_SHARE:g} "
                f"({int(1 / _MIN_SHARE)} trials per GPU at most); raise it"
            )
        per = math.floor(1 / gpus_per_trial + 1e-9)
        groups: list[tuple[str, ...]] = [(g,) for _ in range(per) for g in gpus]  # spread
    else:
        if gpus_per_trial != int(gpus_per_trial):
            raise ValueError(
                f"resources.gpus_per_trial: {gpus_per_trial:g} GPUs per trial; above 1 give a "
                "whole number of GPUs (below 1 a fraction: 0.5 runs two trials per GPU)"
            )
        per, k = 1, int(gpus_per_trial)
        if k > len(gpus):
            raise ValueError(
                f"resources.gpus_per_trial: {k} GPUs per trial, but only {len(gpus)} "
                f"are visible ({','.join(gpus)}); lower gpus_per_trial"
            )
        if k > 1 and any(g.startswith("MIG-") for g in gpus):
            raise ValueError(
                "resources.gpus_per_trial: a trial sees one MIG instance at most (CUDA "
                f"uses only the first); with MIG devices use gpus_per_trial 1 (got {k})"
            )
        groups = [tuple(gpus[i : i + k]) for i in range(0, len(gpus) - k + 1, k)]
    notes = []
    if workers is not None and workers > len(groups):
        what = "GPUs" if per == 1 else f"GPUs shared by {per} trials each"
        notes.append(
            f"resources.workers={workers}, but {len(gpus)} {what} make {len(groups)} slots of "
            f"{gpus_per_trial:g}: running {len(groups)} workers"
        )
    n = len(groups) if workers is None else min(workers, len(groups))
    slots = [Slot(i, groups[i], shared_by=per) for i in range(n)]
    used = {g for s in slots for g in s.gpus}
    idle = [g for g in gpus if g not in used]
    if idle:
        why = (
            f"resources.workers={workers}"
            if workers is not None and n < len(groups)
            else f"resources.gpus_per_trial={gpus_per_trial:g} on {len(gpus)} GPUs"
        )
        notes.append(
            f"{why}: GPU{'s' if len(idle) > 1 else ''} {','.join(idle)} "
            f"stay{'' if len(idle) > 1 else 's'} idle"
        )
    return slots, "; ".join(notes) or None
