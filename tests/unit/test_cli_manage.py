"""The command line people expect: --version, python -m, list, delete, rename; reads never
write; numbers at a sensible precision. Real databases, the real CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import tunehooks as th


def cli(*args: str, stdin: str | None = None, module: str = "tunehooks.cli", cwd=None):
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        timeout=120,
    )


def make(storage_url: str, name: str, *, lr: float = 0.00010000000000000009, running: bool = False):
    exp = th.Experiment.create(
        name,
        th.SearchSpace(
            {
                "lr": th.Float(1e-5, 1.0, log=True),
                "optimizer": th.Categorical(["sgd", "adam", "adamw_with_a_long_name"]),
                "weight_decay": th.Float(1e-6, 1e-1, log=True),
                "label_smoothing": th.Float(0.0, 0.3),
            }
        ),
        metrics=[th.Metric("acc", goal="maximize")],
        budget=th.Budget(trials=3),
        storage=storage_url,
        method="random",
    )
    exp.enqueue(
        {
            "lr": lr,
            "optimizer": "adamw_with_a_long_name",
            "weight_decay": 0.012345678901234,
            "label_smoothing": 0.1,
        }
    )
    for i in range(3):
        trial = exp.ask()
        assert trial is not None
        trial.report(1, {"acc": 0.5})
        if running and i == 2:
            break  # left RUNNING
        trial.complete({"acc": 0.9 - i / 10})
    return exp


def test_version_and_python_dash_m() -> None:
    out = cli("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"tunehooks {th.__version__}"
    out = cli("--help", module="tunehooks")
    assert out.returncode == 0 and "usage: tunehooks" in out.stdout
    for cmd in ("list", "delete", "rename", "storage", "dashboard", "status"):
        assert cmd in out.stdout


@pytest.mark.slow  # many CLI subprocesses: CI runs it (--run-slow)
def test_reads_never_create_a_database(tmp_path) -> None:
    for argv in (["status"], ["best"], ["list"], ["export", "--csv", "x.csv"], ["delete", "x"]):
        out = cli(*argv, cwd=tmp_path)  # the default storage: ./tunehooks.db
        assert out.returncode == 2, (argv, out.stdout, out.stderr)
        err = out.stderr.strip()
        assert err.count("\n") == 0, err
        assert f"no database at {tmp_path / 'tunehooks.db'}" in err, err
        assert "--storage" in err
        assert not (tmp_path / "tunehooks.db").exists(), argv
    assert os.listdir(tmp_path) == []


@pytest.mark.slow  # many CLI subprocesses: CI runs it (--run-slow)
def test_status_and_best_print_sensible_numbers_and_whole_params(storage_url: str) -> None:
    make(storage_url, "digits")
    out = cli("status", "--storage", storage_url)
    assert out.returncode == 0, out.stderr
    assert "lr=0.0001 " in out.stdout
    assert "00000000" not in out.stdout
    # nothing cut at 60 characters: the last parameter of the long row is there
    row = next(line for line in out.stdout.splitlines() if "adamw_with_a_long_name" in line)
    assert "weight_decay=0.01235" in row and "label_smoothing=0.1" in row, row
    best = cli("best", "--storage", storage_url)
    assert "params: label_smoothing=0.1 lr=0.0001 optimizer=adamw" in best.stdout, best.stdout
    # --json keeps every digit
    js = cli("best", "--json", "--storage", storage_url)
    assert '"lr": 0.00010000000000000009' in js.stdout


def test_list_shows_every_experiment(storage_url: str) -> None:
    make(storage_url, "first")
    make(storage_url, "second", running=True)
    out = cli("list", "--storage", storage_url)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == [
        "name",
        "method",
        "trials",
        "queued",
        "running",
        "completed",
        "pruned",
        "failed",
        "paused",
        "best",
    ]
    first = next(line for line in lines if line.startswith("first "))
    second = next(line for line in lines if line.startswith("second "))
    assert first.split()[:9] == ["first", "random", "3", "0", "0", "3", "0", "0", "0"]
    assert "acc=0.9 (trial 0)" in first
    assert second.split()[:9] == ["second", "random", "3", "0", "1", "2", "0", "0", "0"]


@pytest.mark.slow  # many CLI subprocesses: CI runs it (--run-slow)
def test_delete_asks_and_yes_skips_the_question(storage_url: str) -> None:
    make(storage_url, "keep")
    make(storage_url, "drop")
    out = cli("delete", "drop", "--storage", storage_url, stdin="n\n")
    assert out.returncode == 1
    assert "delete experiment 'drop' and its 3 trials" in out.stdout
    assert "nothing deleted" in out.stdout
    out = cli("delete", "drop", "--storage", storage_url, stdin="")  # no answer: no
    assert out.returncode == 1
    assert th.Experiment.load("drop", storage=storage_url).name == "drop"
    out = cli("delete", "drop", "--storage", storage_url, stdin="y\n")
    assert out.returncode == 0, out.stderr
    assert "deleted experiment 'drop' (3 trials)" in out.stdout
    make(storage_url, "drop2")
    out = cli("delete", "drop2", "--yes", "--storage", storage_url)
    assert out.returncode == 0, out.stderr
    from tunehooks.storage.sql import SQLStorage

    store = SQLStorage(storage_url)
    assert store.list_experiments() == ["keep"]
    exp_id, _ = store.get_experiment("keep")
    assert sum(store.count_trials(exp_id).values()) == 3
    out = cli("delete", "nope", "--yes", "--storage", storage_url)
    assert out.returncode == 2 and "no experiment 'nope'" in out.stderr


@pytest.mark.slow  # many CLI subprocesses: CI runs it (--run-slow)
def test_delete_and_rename_refuse_a_running_sweep_unless_forced(storage_url: str) -> None:
    make(storage_url, "live", running=True)
    out = cli("delete", "live", "--yes", "--storage", storage_url)
    assert out.returncode == 2
    assert "1 RUNNING trials" in out.stderr and "--force" in out.stderr
    out = cli("rename", "live", "other", "--storage", storage_url)
    assert out.returncode == 2 and "--force" in out.stderr
    out = cli("rename", "live", "other", "--force", "--storage", storage_url)
    assert out.returncode == 0, out.stderr
    out = cli("delete", "other", "--yes", "--force", "--storage", storage_url)
    assert out.returncode == 0, out.stderr


@pytest.mark.slow  # many CLI subprocesses: CI runs it (--run-slow)
def test_rename_keeps_the_trials(storage_url: str) -> None:
    make(storage_url, "old")
    make(storage_url, "taken")
    out = cli("rename", "old", "new", "--storage", storage_url)
    assert out.returncode == 0, out.stderr
    assert "renamed experiment 'old' to 'new'" in out.stdout
    exp = th.Experiment.load("new", storage=storage_url)
    assert len(exp.get_trials()) == 3 and exp.best is not None
    assert exp.best.values == {"acc": pytest.approx(0.9)}
    out = cli("rename", "new", "taken", "--storage", storage_url)
    assert out.returncode == 2 and "'taken' already exists" in out.stderr
    out = cli("rename", "gone", "x", "--storage", storage_url)
    assert out.returncode == 2 and "no experiment 'gone'" in out.stderr
    out = cli("status", "old", "--storage", storage_url)
    assert out.returncode == 2 and "no experiment 'old'" in out.stderr


@pytest.mark.slow  # many CLI subprocesses: CI runs it (--run-slow)
def test_status_best_list_export_leave_the_database_unchanged(storage_url: str, tmp_path) -> None:
    make(storage_url, "ro")
    files = sorted(p for p in tmp_path.iterdir() if p.name.startswith("tunehooks.db"))

    def contents() -> list[bytes]:
        return [p.read_bytes() if p.exists() else b"" for p in files if not p.name.endswith("-shm")]

    before = contents()
    for argv in (["status"], ["best"], ["list"], ["export", "--csv", str(tmp_path / "t.csv")]):
        out = cli(*argv, "--storage", storage_url)
        assert out.returncode == 0, (argv, out.stderr)
    assert contents() == before
