"""Trials per hour with 1, 2, 4 and 8 concurrent trial slots on a two-node Ray cluster,
against the ideal k-fold, and the launcher's own CPU per trial.

    sudo unshare -n sh -c 'ip link set lo up && nice .venv/bin/python bench/scale/run.py'
    [--seconds 5] [--rounds 4] [--out bench/results/scale.md]

Starts (and stops, by process group) a PostgreSQL server and a Ray cluster of two nodes
on loopback, each declaring two GPUs; runs a fixed-length stand-in trial (it sleeps
``--seconds`` and reports once) with ``gpus_per_trial: 0.5`` (eight slots) and
``workers: k``, ``rounds * k`` trials per k. Trials per hour is completed trials over the
wall time of the launch; the ideal is ``k * 3600 / seconds``. The launcher's CPU is its
process's user + system time during the launch (the Ray driver's threads included).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from tunehooks.launch import Launcher, LogProgress, parse_sweep

TRIAL = """
    import argparse, json, sys, time
    p = argparse.ArgumentParser()
    p.add_argument("--x", type=float)
    a = p.parse_args()
    time.sleep(float(open(__file__ + ".seconds").read()))
    print("tunehooks: " + json.dumps({"step": 1, "y": a.x}))
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postgres(root: Path) -> tuple[str, list[str]]:
    pg = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _port()
    subprocess.run(
        [
            *as_user,
            str(pg / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *as_user,
            str(pg / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-w",
            "-o",
            opts,
            "start",
        ],
        check=True,
        capture_output=True,
    )
    stop = [*as_user, str(pg / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


def _ray_node(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    ray = str(Path(sys.executable).parent / "ray")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.Popen(
        [
            ray,
            "start",
            "--block",
            "--node-ip-address",
            "127.0.0.1",
            "--num-cpus",
            "8",
            "--num-gpus",
            "2",
            "--disable-usage-stats",
            *args,
        ],
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--slots", default="1,2,4,8")
    ap.add_argument("--out", default="bench/results/scale.md")
    args = ap.parse_args()
    import ray

    root = Path(tempfile.mkdtemp(prefix="tunehooks-scale-"))
    pg_root = Path(tempfile.mkdtemp(prefix="tunehooks-scale-pg-"))  # the server's own user owns it
    url, pg_stop = _postgres(pg_root)
    port = _port()
    temp = Path("/tmp") / f"tunehooks-ray-{port}"
    head = _ray_node(
        ["--head", "--port", str(port), "--temp-dir", str(temp), "--include-dashboard", "false"],
        root / "head.log",
    )
    time.sleep(2)
    worker = _ray_node(["--address", f"127.0.0.1:{port}"], root / "worker.log")
    rows = []
    try:
        deadline = time.time() + 300
        while True:
            try:
                ray.init(address=f"127.0.0.1:{port}", log_to_driver=False, logging_level="ERROR")
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(1)
        while sum(1 for n in ray.nodes() if n["Alive"]) < 2:
            time.sleep(0.5)
        work = root / "work"
        work.mkdir()
        (work / "train.py").write_text(textwrap.dedent(TRIAL))
        (work / "train.py.seconds").write_text(str(args.seconds))
        for k in [int(v) for v in args.slots.split(",")]:
            n = args.rounds * k
            sweep = parse_sweep(
                {
                    "name": f"scale-{k}",
                    "program": "train.py",
                    "command": ["${interpreter}", "${program}", "${args}"],
                    "method": "random",
                    "metric": {"name": "y", "goal": "maximize"},
                    "parameters": {"x": {"min": 0.0, "max": 1.0}},
                    "budget": {"trials": n},
                    "resources": {
                        "executor": "ray",
                        "gpus_per_trial": 0.5,
                        "workers": k,
                        "cpus_per_trial": 0.5,
                    },
                },
                path=work / "sweep.yaml",
            )
            out = io.StringIO()
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.time()
            result = Launcher(
                sweep,
                storage=url,
                runs_dir=work / "runs",
                cwd=work,
                progress=LogProgress(out, timestamps=False),
            ).run()
            wall = time.time() - t0
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            per_hour = result.completed / wall * 3600
            ideal = k * 3600 / args.seconds
            rows.append((k, result.completed, wall, per_hour, per_hour / ideal, cpu / n))
            print(
                f"k={k}: {result.completed}/{n} in {wall:.1f}s, {per_hour:.0f}/h "
                f"({per_hour / ideal:.0%} of ideal), launcher CPU {cpu / n:.2f}s per trial",
                flush=True,
            )
    finally:
        ray.shutdown()
        _stop(worker)
        _stop(head)
        subprocess.run(pg_stop, capture_output=True, check=False)
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(pg_root, ignore_errors=True)
    lines = [
        "# Scale: trials per hour on a two-node Ray cluster (loopback, 2 GPUs declared per node)",
        "",
        f"Stand-in trial: sleeps {args.seconds:g} s and reports once; `gpus_per_trial: 0.5`, "
        f"`workers: k`; {args.rounds} × k trials per row; PostgreSQL storage. Written by "
        "`bench/scale/run.py` on a 2-core machine shared with other work. Each trial starts "
        "its own Ray actor (a Python worker process) and the trial's own process; with one "
        "slot the time per trial beyond the sleep is that start, the ask and the end written; "
        "with more slots those starts compete for the two cores, which caps the rate here.",
        "",
        "| slots k | trials | wall s | trials/hour | ideal k·3600/len | ratio to ideal "
        "| launcher CPU s/trial |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k, done, wall, ph, ratio, cpu in rows:
        lines.append(
            f"| {k} | {done} | {wall:.1f} | {ph:.0f} | {k * 3600 / args.seconds:.0f} "
            f"| {ratio:.2f} | {cpu:.2f} |"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
