"""Trials as Ray actors: placed by Ray on a cluster's GPUs (fractions share one), each
running the trial's command as a process of its node.

The launcher connects to a cluster (``auto``, ``ray://host:10001``, ``host:6379``; none
given: a local one it starts) and starts one actor per trial with ``num_gpus =
gpus_per_trial``, ``num_cpus = cpus_per_trial`` and ``memory`` when given. Ray sets the
actor's ``CUDA_VISIBLE_DEVICES``; the actor starts the command with it and the trial's
``TUNEHOOKS_*`` variables, so the program and the integrations read the same
environment contract as under the local launcher. The actor streams the output lines
back (a long poll, half a second at most); its ``stdout.log``/``stderr.log`` and a
``node.json`` (which node, which devices) are written in the trial's run folder on its
node. When the actor's node dies, the trial is *lost*: FAILED with the reason and queued
again. How many trials run at once follows the cluster's total GPUs (or CPUs), re-read
as nodes join or leave.

Every node must see the program and its folder at the launcher's paths (a shared
filesystem or the same image), and reach the storage (PostgreSQL).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tunehooks._extras import require
from tunehooks.launch.executors.base import TrialHandle
from tunehooks.launch.process import TrialProcess

__all__ = ["RayExecutor", "RayTrial", "import_ray"]

_STEP_WAIT = 0.5  # seconds one output poll of an actor waits for a line
_PASSED = ("TUNEHOOKS_", "PYTHONUNBUFFERED", "PYTHONHASHSEED", "OMP_NUM_THREADS")


def import_ray() -> Any:
    """The ``ray`` module, or an error that says how to install it."""
    return require("ray", extra="ray", what="executor ray")


class TrialActor:
    """Runs on a node of the cluster: starts the trial's command, hands its output over.

    (Made a Ray actor by :class:`RayExecutor`; a plain class here, so that it is pickled
    by reference and every node imports it from tunehooks.)
    """

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str | None, run_dir: str
    ) -> None:
        import ray

        run = Path(run_dir)
        run.mkdir(parents=True, exist_ok=True)
        full = dict(os.environ)
        full.update(env)
        devices = os.environ.get("CUDA_VISIBLE_DEVICES")  # what Ray gave this actor
        if devices is None:
            full.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            full["CUDA_VISIBLE_DEVICES"] = devices
        node = ray.get_runtime_context().get_node_id()
        with contextlib.suppress(OSError):
            (run / "node.json").write_text(
                json.dumps({"node_id": node, "host": os.uname().nodename, "gpus": devices})
            )
        self.error: str | None = None
        self.process: TrialProcess | None = None
        try:
            self.process = TrialProcess(argv, env=full, cwd=cwd, run_dir=run)
        except OSError as e:
            self.error = f"could not start the command {argv[0]!r} on node {node}: {e}"
            with contextlib.suppress(OSError), open(run / "stderr.log", "a") as f:
                f.write(self.error + "\n")

    def step(self, wait: float) -> tuple[list[str], int | None, str]:
        """The lines printed since the last step (waiting up to ``wait`` seconds for one),
        the exit code once it ended, and then the end of its stderr."""
        p = self.process
        if p is None:
            return [], 127, self.error or ""
        deadline = time.time() + wait
        lines: list[str] = []
        while True:
            p.tick(time.time())
            lines += p.read_lines()
            rc = p.poll()
            if rc is not None:
                lines += p.drain()
                return lines, rc, p.stderr_tail()
            left = deadline - time.time()
            if lines or left <= 0:
                return lines, None, ""
            if p.eof:
                time.sleep(min(left, 0.05))
            else:
                select.select([p.stdout], [], [], min(left, 0.05))

    def terminate(self, grace: float) -> None:
        if self.process is not None:
            self.process.terminate(grace)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()


class RayTrial:
    """The launcher's handle on one trial actor (a :class:`TrialHandle`).

    Example:
        >>> from pathlib import Path
        >>> h = RayTrial(actor=None, run_dir=Path("runs/e/1"))
        >>> h.update(["tunehooks: {}"], 0, ""); h.read_lines(), h.poll(), h.eof
        (['tunehooks: {}'], 0, True)
    """

    def __init__(self, actor: Any, run_dir: Path) -> None:
        self.actor = actor
        self.run_dir = run_dir
        self.eof = False
        self.lost: str | None = None
        self.pending: Any = None
        self._rc: int | None = None
        self._lines: list[str] = []
        self._tail = ""

    def update(self, lines: list[str], rc: int | None, tail: str) -> None:
        self._lines += lines
        if rc is not None:
            self._rc, self._tail, self.eof = rc, tail, True

    def lose(self, why: str) -> None:
        """Its actor died with its node: it ended, lost."""
        self.lost = why
        self.update([], -9, why)

    def poll(self) -> int | None:
        return self._rc

    def read_lines(self) -> list[str]:
        out, self._lines = self._lines, []
        return out

    def drain(self) -> list[str]:
        return self.read_lines()

    def terminate(self, grace: float) -> None:
        if self._rc is None:
            with contextlib.suppress(Exception):
                self.actor.terminate.remote(grace)

    def tick(self, now: float) -> None:
        """The actor keeps the stop's timer on its node."""

    def kill(self) -> None:
        if self._rc is None:
            with contextlib.suppress(Exception):
                self.actor.kill.remote()

    def stderr_tail(self, limit: int = 2000) -> str:
        return self._tail[-limit:]


class RayExecutor:
    """Starts each trial as a Ray actor with the sweep's resources.

    Example:
        >>> RayExecutor.__name__  # needs a Ray cluster: see tests/ray
        'RayExecutor'
    """

    def __init__(
        self,
        *,
        address: str | None,
        gpus_per_trial: float,
        cpus_per_trial: float = 1.0,
        memory_gb: float | None = None,
    ) -> None:
        ray = import_ray()
        self.ray = ray
        if not ray.is_initialized():
            options: dict[str, Any] = {"log_to_driver": False, "logging_level": "WARNING"}
            if address is None:
                options["include_dashboard"] = False
            ray.init(address=address, **options)
        self.gpus_per_trial = float(gpus_per_trial)
        self.cpus_per_trial = float(cpus_per_trial)
        self.memory = None if memory_gb is None else int(memory_gb * 2**30)
        self._actor_class = ray.remote(TrialActor)
        self._handles: list[RayTrial] = []

    # -- the cluster -----------------------------------------------------------------------
    def nodes(self) -> int:
        """The nodes alive now."""
        return sum(1 for n in self.ray.nodes() if n.get("Alive"))

    def capacity(self) -> int:
        """How many trials the cluster holds at once now (its total GPUs or CPUs)."""
        total = self.ray.cluster_resources()
        if self.gpus_per_trial > 0:
            return math.floor(float(total.get("GPU", 0.0)) / self.gpus_per_trial + 1e-9)
        return math.floor(float(total.get("CPU", 0.0)) / max(self.cpus_per_trial, 1e-9) + 1e-9)

    def describe(self) -> str:
        total = self.ray.cluster_resources()
        n = self.nodes()
        return (
            f"Ray cluster of {n} node{'s' if n != 1 else ''} ({total.get('GPU', 0):g} GPUs, "
            f"{total.get('CPU', 0):g} CPUs), {self.gpus_per_trial:g} GPU and "
            f"{self.cpus_per_trial:g} CPU per trial"
        )

    # -- the executor ----------------------------------------------------------------------
    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | os.PathLike[str] | None,
        run_dir: Path,
    ) -> RayTrial:
        passed = {k: v for k, v in env.items() if k.startswith(_PASSED)}
        options: dict[str, Any] = {
            "num_gpus": self.gpus_per_trial,
            "num_cpus": self.cpus_per_trial,
            "max_concurrency": 2,  # a stop reaches it while a step waits for output
            "max_restarts": 0,
        }
        if self.memory is not None:
            options["memory"] = self.memory
        actor = self._actor_class.options(**options).remote(
            list(argv), passed, None if cwd is None else str(cwd), str(run_dir.resolve())
        )
        handle = RayTrial(actor, run_dir)
        self._handles.append(handle)
        return handle

    def ready(self, timeout: float) -> list[TrialHandle]:
        ray = self.ray
        live = [h for h in self._handles if h.poll() is None]
        for h in live:
            if h.pending is None:
                h.pending = h.actor.step.remote(_STEP_WAIT)
        if not live:
            time.sleep(timeout)
            return []
        refs = [h.pending for h in live]
        done, rest = ray.wait(refs, num_returns=1, timeout=timeout)
        if done and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            done += more
        finished = set(done)
        out: list[TrialHandle] = []
        for h in live:
            if h.pending not in finished:
                continue
            ref, h.pending = h.pending, None
            try:
                lines, rc, tail = ray.get(ref)
            except ray.exceptions.ActorUnavailableError:
                continue  # a transient loss of contact: the next step asks again
            except ray.exceptions.RayActorError as e:
                h.lose(f"lost: its Ray actor died (its node died or was stopped): {_first(e)}")
            except ray.exceptions.RayError as e:
                h.lose(f"lost: Ray could not run it: {_first(e)}")
            else:
                h.update(lines, rc, tail)
            out.append(h)
        return out

    def unregister(self, handle: TrialHandle) -> None:
        """Its output ended; the handle stays until :meth:`forget`."""

    def forget(self, handle: TrialHandle) -> None:
        for h in list(self._handles):
            if h is handle:
                self._handles.remove(h)
                with contextlib.suppress(Exception):
                    self.ray.kill(h.actor)

    def close(self) -> None:
        for h in self._handles:
            with contextlib.suppress(Exception):
                self.ray.kill(h.actor)
        self._handles.clear()


def _first(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]
