"""Through the Python API: while the database cannot be written, reports wait in memory
and training goes on; once it can, they are written; a permanent error is raised once and
never blocks later calls."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tunehooks as th
from tunehooks.storage import StorageUnavailableError

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0, reason="chattr needs root"
)


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[list[Path]]:
    files: list[Path] = []
    yield files
    subprocess.run(["chattr", "-i", *map(str, files)], capture_output=True)


def _lock(files: list[Path], *paths: Path) -> None:
    files.extend(paths)
    res = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"chattr does not work here ({res.stderr.strip()})")


def _unlock(files: list[Path]) -> None:
    subprocess.run(["chattr", "-i", *map(str, files)], check=True)


def _exp(tmp_path: Path) -> tuple[th.Experiment, Path]:
    db = tmp_path / "db.sqlite"
    exp = th.Experiment.create(
        "api", th.SearchSpace({"x": th.Float(0, 1)}), metrics=[th.Metric("y", goal="maximize")],
        budget=th.Budget(trials=2), storage=f"sqlite:///{db}", method="random",
    )  # fmt: skip
    exp.report_interval = 0.0  # every report is due at once
    return exp, db


def test_reports_wait_in_memory_while_the_file_cannot_be_written(
    tmp_path: Path, immutable: list[Path]
) -> None:
    exp, db = _exp(tmp_path)
    trial = exp.ask()
    assert trial is not None
    trial.report(1, {"y": 0.1})
    _lock(immutable, db, Path(f"{db}-wal"))
    t0 = time.monotonic()
    for step in range(2, 12):  # training goes on: no report raises, none waits long
        assert trial.report(step, {"y": step / 10}) is th.Decision.CONTINUE
    assert time.monotonic() - t0 < 5
    _unlock(immutable)
    time.sleep(1.1)  # the next try is due
    trial.report(12, {"y": 1.2})
    trial.complete()
    assert [r.step for r in exp.storage.get_trial(trial.id).reports] == list(range(1, 13))


def test_an_outage_longer_than_storage_timeout_raises_one_line(
    tmp_path: Path, immutable: list[Path]
) -> None:
    exp, db = _exp(tmp_path)
    exp.storage_timeout = 2.0
    trial = exp.ask()
    assert trial is not None
    trial.report(1, {"y": 0.1})
    _lock(immutable, db, Path(f"{db}-wal"))
    deadline = time.monotonic() + 20
    with pytest.raises(StorageUnavailableError) as info:
        step = 2
        while time.monotonic() < deadline:
            trial.report(step, {"y": 0.2})
            step += 1
            time.sleep(0.2)
    assert "\n" not in str(info.value) and "could not be written for 2s" in str(info.value)
    _unlock(immutable)
    exp.storage.retry_timeout = 30.0
    trial.complete()  # what waited is written with the end
    steps = [r.step for r in exp.storage.get_trial(trial.id).reports]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) > 2
