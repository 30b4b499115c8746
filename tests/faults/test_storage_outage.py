"""The database goes away mid-sweep (server restart, full disk, read-only file): trials
keep training, their reports wait in memory and are written when it is back; only an
outage longer than ``storage_timeout`` ends the launch, with one line and nothing lost."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tunehooks as th

STEPS = 25

PRINTER = f"""
    import json, sys, time
    wide = int(sys.argv[1]) if len(sys.argv) > 1 else 0  # metrics that make the file grow
    for step in range(1, {STEPS} + 1):
        extra = {{f"m{{i}}": step + i / 7 for i in range(wide)}}
        print("tunehooks: " + json.dumps({{"step": step, "y": step / 100, **extra}}), flush=True)
        time.sleep(0.2)
"""

API = f"""
    import time
    import tunehooks as th
    trial = th.current_trial()
    for step in range(1, {STEPS} + 1):
        trial.report(step, {{"y": step / 100}})
        time.sleep(0.2)
    trial.complete()
"""

SWEEP = """
name: out
program: train.py
command: ["${interpreter}", "${program}"]
method: random
metric: {name: y, goal: maximize}
parameters: {x: {min: 0.0, max: 1.0}}
budget: {trials: 4}
resources: {workers: 2, gpus_per_trial: 0}
"""


def _launch(
    tmp_path: Path, url: str, script: str, extra: str = "", wide: int = 0
) -> subprocess.Popen[str]:
    (tmp_path / "train.py").write_text(textwrap.dedent(script))
    sweep = SWEEP + extra
    if wide:
        sweep = sweep.replace('"${program}"]', f'"${{program}}", "{wide}"]')
    (tmp_path / "sweep.yaml").write_text(sweep)
    return subprocess.Popen(
        [sys.executable, "-m", "tunehooks.cli", "launch", "sweep.yaml", "--storage", url],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class _Output:
    """The launcher's stdout and stderr, read as they come (two threads), so a test can
    wait for a line instead of sleeping a fixed time."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.out: list[str] = []
        self.err: list[str] = []
        self._new = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((proc.stdout, self.out), (proc.stderr, self.err))
        ]
        for r in self._readers:
            r.start()

    def _read(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            with self._new:
                lines.append(line)
                self._new.notify_all()
        with self._new:
            self._new.notify_all()

    def wait_for(self, text: str, timeout: float = 120.0) -> None:
        """Until a line of stdout holds ``text`` (AssertionError after ``timeout`` s, or
        when the launcher ended without it)."""
        deadline = time.monotonic() + timeout
        with self._new:
            while not any(text in line for line in self.out):
                left = deadline - time.monotonic()
                if left <= 0 or not any(r.is_alive() for r in self._readers):
                    raise AssertionError(
                        f"the launcher did not say {text!r}: {''.join(self.out + self.err)}"
                    )
                self._new.wait(min(left, 1.0))

    def communicate(self, timeout: float) -> tuple[str, str]:
        """``Popen.communicate``: wait for the end, then all it wrote."""
        self.proc.wait(timeout=timeout)
        for r in self._readers:
            r.join(timeout=30)
        return "".join(self.out), "".join(self.err)


def _trials(url: str) -> list[th.TrialRecord]:
    try:
        exp = th.Experiment.load("out", storage=url)
        return exp.get_trials()
    except Exception:
        return []


def _wait_for_steps(url: str, n_trials: int, step: int, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        running = [t for t in _trials(url) if t.state is th.TrialState.RUNNING]
        if len(running) >= n_trials and all((t.last_step or 0) >= step for t in running):
            return
        time.sleep(0.1)
    raise AssertionError("the trials did not start in time")


def _forget(url: str) -> None:
    """Close this test process's own connections (the server is about to go away)."""
    from tunehooks.storage import _cache

    for key in [k for k in _cache if k[1] == url]:
        _cache.pop(key).close()


def _check_everything_stored(url: str) -> None:
    trials = _trials(url)
    assert len(trials) == 4 and all(t.state is th.TrialState.COMPLETED for t in trials), [
        (t.number, t.state, t.error) for t in trials
    ]
    for t in trials:
        assert [r.step for r in t.reports] == list(range(1, STEPS + 1)), t.number


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("script", [PRINTER, API], ids=["printed reports", "current_trial"])
def test_a_postgres_restart_mid_sweep_loses_nothing(
    tmp_path: Path, pg_server: Any, script: str
) -> None:
    url = pg_server.new_database()
    proc = _launch(tmp_path, url, script)
    output = _Output(proc)
    _wait_for_steps(url, 2, 3)
    _forget(url)
    pg_server.stop("fast")  # every connection is dropped
    if script is PRINTER:  # the launcher writes the reports: it finds the server gone
        output.wait_for("the database is unavailable")
    else:  # the trials write them (and say nothing): a while of outage
        time.sleep(6)
    pg_server.start()
    out, err = output.communicate(timeout=180)
    assert proc.returncode == 0, out + err
    assert "Traceback" not in out + err
    if script is PRINTER:  # the launcher writes the reports (else the trials do, and wait)
        assert "the database is unavailable" in out and "the database is back" in out
    _check_everything_stored(url)


@pytest.mark.slow
@pytest.mark.postgres
def test_an_outage_longer_than_the_timeout_is_one_line_and_a_relaunch_finishes(
    tmp_path: Path, pg_server: Any
) -> None:
    url = pg_server.new_database()
    proc = _launch(tmp_path, url, PRINTER, "storage_timeout: 3\n")
    _wait_for_steps(url, 2, 3)
    _forget(url)
    pg_server.stop("fast")
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        pg_server.start()
    assert proc.returncode == 1, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tunehooks launch: error: storage "), err
    assert "unavailable for" in lines[0] and "relaunch" in lines[0]
    before = {t.id: [r.step for r in t.reports] for t in _trials(url)}
    assert before and any(before.values())  # what was stored is there
    proc = _launch(tmp_path, url, PRINTER)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, out + err
    after = {t.id: [r.step for r in t.reports] for t in _trials(url)}
    assert all(after[i][: len(s)] == s for i, s in before.items())  # nothing stored lost
    done = [t for t in _trials(url) if t.state is th.TrialState.COMPLETED]
    assert len({str(t.params) for t in done}) == 4


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                         capture_output=True, text=True)  # fmt: skip
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


needs_root = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0, reason="mounts a filesystem"
)


@pytest.mark.slow
@needs_root
def test_a_full_disk_mid_sweep_loses_nothing(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "disk", "8m") as disk:
        url = f"sqlite:///{disk / 'db.sqlite'}"
        proc = _launch(tmp_path, url, PRINTER, wide=300)
        output = _Output(proc)
        _wait_for_steps(url, 2, 3)
        filler = disk / "filler"
        # unbuffered, and the error of the close suppressed too: a buffer that the full
        # disk refused failed the close, outside suppress (the flake under load)
        with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as f:
            while True:
                f.write(b"\0" * (1 << 16))
        output.wait_for("database or disk is full")  # a write failed on the full disk
        filler.unlink()
        out, err = output.communicate(timeout=180)
        assert proc.returncode == 0, out + err
        assert "the database is unavailable" in out and "database or disk is full" in out, out
        _check_everything_stored(url)


def _chattr(flag: str, *paths: Path) -> None:
    res = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"chattr {flag} does not work here ({res.stderr.strip()})")


@pytest.mark.slow
@needs_root
def test_a_read_only_database_file_mid_sweep_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    url = f"sqlite:///{db}"
    proc = _launch(tmp_path, url, PRINTER, wide=50)
    output = _Output(proc)
    try:
        _wait_for_steps(url, 2, 3)
        _chattr("+i", db, Path(f"{db}-wal"))  # even root cannot write it now
        output.wait_for("the database is unavailable")  # a write failed on it
    finally:
        subprocess.run(["chattr", "-i", str(db), f"{db}-wal"], capture_output=True)
    out, err = output.communicate(timeout=180)
    assert proc.returncode == 0, out + err
    assert "the database is unavailable" in out, out
    _check_everything_stored(url)


@needs_root
def test_status_on_a_read_only_filesystem_says_so(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "disk", "4m") as disk:
        url = f"sqlite:///{disk / 'db.sqlite'}"
        exp = th.Experiment.create(
            "ro", th.SearchSpace({"x": th.Float(0, 1)}), metrics=[th.Metric("y", goal="maximize")],
            budget=th.Budget(trials=1), storage=url, method="random",
        )  # fmt: skip
        t = exp.ask()
        assert t is not None
        t.complete({"y": 1.0})
        _forget(url)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        t0 = time.time()
        res = subprocess.run(
            [sys.executable, "-m", "tunehooks.cli", "status", "--storage", url],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert time.time() - t0 < 4.5  # said at once, not after the open's retries
        assert res.returncode == 2, res.stdout + res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "read-only" in lines[0], res.stderr
        assert "server reachable" not in lines[0]
