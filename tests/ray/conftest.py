"""A real two-node Ray cluster on loopback, started (and stopped) by the tests.

Ray binds to the machine's own address even when told 127.0.0.1, so these tests run
only inside a network namespace that has nothing but loopback (``scripts/test.sh`` runs
them so, as root: ``unshare -n sh -c 'ip link set lo up && pytest tests/ray'``). Each
node is a ``ray start --block`` in its own process group, declaring ``--num-gpus 2`` so
placement is real without GPUs; the tests end those groups, never ``ray stop`` (which
would end every Ray process of the machine). PostgreSQL (the storage every node
reaches) comes from ``tests/postgres/conftest.py``, started inside the namespace too.

Ray's token authentication: a Ray that finds a token (``RAY_AUTH_TOKEN``, the file
``RAY_AUTH_TOKEN_PATH`` names, else ``~/.ray/auth_token``) turns it on for a new head.
The cluster, this process and every launcher the tests start get a token of their own
in ``RAY_AUTH_TOKEN`` with ``RAY_AUTH_MODE=token`` (:func:`own_ray_auth`), so nothing
reads the user's ``~/.ray`` (a stale token left there by a killed Ray run made every
test fail with InvalidAuthToken). Their ``HOME`` is a temp folder whose
``.ray/auth_token`` is such a stale token: were it read, every test would fail.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def _only_loopback() -> bool:
    """Whether this network namespace has no interface but ``lo`` (``/proc/net/dev`` is
    per namespace; ``/sys/class/net`` is not remounted by ``unshare -n``)."""
    with open("/proc/net/dev") as f:
        names = [line.split(":", 1)[0].strip() for line in f.readlines()[2:]]
    return names == ["lo"]


_spec = importlib.util.spec_from_file_location(
    "_tunehooks_pg_fixtures", Path(__file__).parent.parent / "postgres" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_pg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_pg)
postgres_server = _pg.postgres_server
pg_url = _pg.pg_url

RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def own_ray_auth() -> dict[str, str]:
    """The environment of token authentication with a new token of the tests' own: Ray
    reads ``RAY_AUTH_TOKEN`` before any token file, and ``RAY_AUTH_MODE`` set means no
    token found elsewhere turns authentication on or off (see Ray's
    ``ray/_private/authentication/authentication_token_setup.py``)."""
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


# the user's settings that would point the tests' Ray elsewhere
_USERS_RAY = ("RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS")


@dataclass
class Node:
    """One ``ray start --block`` and its process group."""

    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self, sig: int = signal.SIGTERM, wait: float = 20.0) -> None:
        """End every process of the node's group (SIGKILL for what is left after ``wait``)."""
        for s, w in ((sig, wait), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.proc.pid, s)
            except ProcessLookupError:
                break
            deadline = time.time() + w
            while time.time() < deadline and _group_alive(self.proc.pid):
                self.proc.poll()
                time.sleep(0.2)
            if not _group_alive(self.proc.pid):
                break
        self.proc.poll()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # zombies of the group count as gone
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@dataclass
class Cluster:
    address: str
    head: Node
    worker: Node


def _start_node(args: list[str], log: Path, env: dict[str, str]) -> Node:
    out = open(log, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [RAY, "start", "--block", "--node-ip-address", "127.0.0.1", *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    return Node(proc, log)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home = tmp_path_factory.mktemp("home")
    (home / ".ray").mkdir()
    (home / ".ray" / "auth_token").write_text(secrets.token_hex(32))  # a stale one: a decoy
    with pytest.MonkeyPatch.context() as mp:
        # before Ray is imported: this process (the launchers the tests run in it) and
        # the launcher processes the tests start (they copy os.environ) use the token too
        for name, value in own_ray_auth().items():
            mp.setenv(name, value)
        mp.setenv("HOME", str(home))
        for name in _USERS_RAY:
            mp.delenv(name, raising=False)
        yield from _cluster(tmp_path_factory)


def _cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    ray = pytest.importorskip("ray", reason='Ray is not installed: pip install "tunehooks[ray]"')
    if not _only_loopback():
        pytest.skip(
            "the Ray tests need a network namespace with only loopback: as root run "
            "unshare -n sh -c 'ip link set lo up && pytest tests/ray' (scripts/test.sh does)"
        )

    root = tmp_path_factory.mktemp("ray")
    port = _free_port()
    env = dict(os.environ)  # the token of own_ray_auth() included
    env.update(
        {
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_health_check_period_ms": "1000",
            "RAY_health_check_timeout_ms": "2000",
            "RAY_health_check_failure_threshold": "3",
        }
    )
    common = ["--num-cpus", "4", "--num-gpus", "2", "--disable-usage-stats"]
    temp = Path("/tmp") / f"tunehooks-ray-{port}"  # short: Ray's socket paths have a limit
    head = _start_node(
        [
            "--head",
            "--port",
            str(port),
            "--temp-dir",
            str(temp),
            "--include-dashboard",
            "false",
            *common,
        ],
        root / "head.log",
        env,
    )
    worker = None
    address = f"127.0.0.1:{port}"
    try:
        time.sleep(2.0)
        worker = _start_node(["--address", address, *common], root / "worker.log", env)
        deadline = time.time() + 240
        while True:
            try:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(1.0)
        while sum(1 for n in ray.nodes() if n["Alive"]) < 2:
            if time.time() > deadline:
                raise RuntimeError(f"the worker node did not join: {worker.log.read_text()}")
            time.sleep(0.5)
        yield Cluster(address, head, worker)
    finally:
        ray.shutdown()
        if worker is not None:
            worker.stop()
        head.stop()
        shutil.rmtree(temp, ignore_errors=True)
