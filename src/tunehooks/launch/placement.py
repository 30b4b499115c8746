"""Where a launch's trials go: the slots of this machine's GPUs (or CPUs), or as many
slots as a Ray cluster holds trials; the executor that runs them; the lines said at start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tunehooks.launch._schema import SweepError
from tunehooks.launch.devices import Detected, Slot, detect_devices, make_slots
from tunehooks.launch.executors import Executor, LocalExecutor
from tunehooks.launch.macros import shell_warning
from tunehooks.launch.sweep import MAX_WORKERS

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment
    from tunehooks.launch.executors.ray_cluster import RayExecutor
    from tunehooks.launch.sweep import Sweep

__all__ = ["Placement", "cluster_capacity", "on_ray", "on_this_machine"]


@dataclass
class Placement:
    """The slots to start with, their executor, and what to say at start.

    Example:
        >>> placed = Placement(executor=LocalExecutor(grace=1.0), slots=[Slot(0)])
        >>> placed.has_gpus, placed.cluster is None
        (False, True)
        >>> placed.executor.close()
    """

    executor: Executor
    slots: list[Slot]
    lines: list[str] = field(default_factory=list)
    has_gpus: bool = False
    pci_order: bool = False
    cluster: RayExecutor | None = None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def on_this_machine(
    sweep: Sweep,
    exp: Experiment,
    *,
    workers: int | None,
    env: Mapping[str, str],
    grace: float,
    logs: Path,
) -> Placement:
    """Slots of this machine's GPUs (``devices:``, ``CUDA_VISIBLE_DEVICES`` or ``nvidia-smi``)."""
    found = Detected(tuple(sweep.devices)) if sweep.devices is not None else detect_devices(env)
    lines = [found.note] if found.note else []
    slots, note = make_slots(
        workers=workers, gpus_per_trial=sweep.gpus_per_trial, devices=list(found.gpus)
    )
    if note:
        lines.append(note)
    lines.append(
        f"sweep {exp.name}: {_plural(len(slots), 'worker')} "
        f"({', '.join(s.describe() for s in slots)}), storage {exp.storage.shown_url}, "
        f"logs in {logs}/"
    )
    warning = shell_warning(sweep.command)
    if warning:
        lines.append(warning)
    return Placement(
        executor=LocalExecutor(grace=grace),
        slots=slots,
        lines=lines,
        has_gpus=bool(found.gpus),
        pci_order=found.pci_order,
    )


def cluster_capacity(cluster: RayExecutor, workers: int | None) -> int:
    """How many trials run at once on ``cluster`` now, ``workers`` at most."""
    return min(cluster.capacity(), workers or MAX_WORKERS, MAX_WORKERS)


def on_ray(
    sweep: Sweep, exp: Experiment, *, workers: int | None, address: str | None, logs: Path
) -> Placement:
    """Connect to the Ray cluster; its capacity makes the slots."""
    from tunehooks.launch.executors.ray_cluster import RayExecutor

    cluster = RayExecutor(
        address=address,
        gpus_per_trial=sweep.gpus_per_trial,
        cpus_per_trial=sweep.cpus_per_trial,
        memory_gb=sweep.memory_gb,
    )
    nodes = cluster.nodes()
    if nodes > 1 and exp.storage.url.startswith("sqlite"):
        raise SweepError(
            f"storage: {exp.storage.shown_url} is a file of this machine, but the Ray "
            f"cluster has {nodes} nodes whose trials write to it; give a PostgreSQL URL "
            "every node reaches (storage: postgresql://user@host/db)"
        )
    n = cluster_capacity(cluster, workers)
    if n == 0:
        raise SweepError(
            f"resources.gpus_per_trial: {cluster.describe()}: no trial fits; lower "
            "gpus_per_trial (0 runs on CPUs) or add nodes"
        )
    line = (
        f"sweep {exp.name}: {cluster.describe()}: {_plural(n, 'trial')} at a time, storage "
        f"{exp.storage.shown_url}, logs in {logs}/"
    )
    warning = shell_warning(sweep.command)
    return Placement(
        executor=cluster,
        slots=[Slot(i, label="ray") for i in range(n)],
        lines=[line, *([warning] if warning else [])],
        cluster=cluster,
    )
