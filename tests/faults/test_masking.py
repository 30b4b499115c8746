"""Database passwords never appear in what tunehooks prints."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tunehooks._urls import mask_url

SECRET = "s3cret-Pw"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:s3cret-Pw@h:5/db", "postgresql://u:***@h:5/db"),
        ("postgresql+psycopg://u:p%40ss@h/db?sslmode=require", "postgresql+psycopg://u:***@h/db?sslmode=require"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("not a url://u:s3cret-Pw@h", "not a url://u:***@h"),
    ],
)  # fmt: skip
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


SWEEP = """
name: masked
program: train.py
command: ["${interpreter}", "${program}"]
method: random
metric: {name: y, goal: maximize}
parameters: {x: {min: 0.0, max: 1.0}}
budget: {trials: 1}
resources: {workers: 1, gpus_per_trial: 0}
"""


@pytest.mark.slow  # many CLI subprocesses: CI runs it (--run-slow)
@pytest.mark.postgres
def test_no_command_prints_the_password(tmp_path: Path, pg_server: object) -> None:
    base = pg_server.new_database()  # type: ignore[attr-defined]
    url = base.replace("postgresql://postgres@", f"postgresql://postgres:{SECRET}@")
    (tmp_path / "sweep.yaml").write_text(SWEEP + f"storage: {url}\n")
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import tunehooks as th
            t = th.current_trial()      # the trial gets the real URL
            t.report(1, {"y": 0.5})
            t.complete()
            """
        )
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tunehooks.cli", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    runs = [
        cli("launch", "sweep.yaml", "--dry-run"),
        cli("launch", "sweep.yaml"),
        cli("status", "--storage", url),
        cli("status", "no-such-experiment", "--storage", url),
        cli("status", "--storage", url.replace(base.rsplit("/", 1)[1], "no_such_db")),
    ]
    assert [r.returncode for r in runs] == [0, 0, 0, 2, 2], [r.stdout + r.stderr for r in runs]
    assert "completed" in runs[2].stdout and "postgres:***@" in runs[2].stdout
    for r in runs:
        assert SECRET not in r.stdout + r.stderr, r.stdout + r.stderr
    logs = "".join(p.read_text() for p in (tmp_path / "runs").rglob("*.log"))
    assert SECRET not in logs
