from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

import tunehooks as th


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunehooks.cli", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.fixture
def finished(storage_url: str) -> str:
    exp = th.Experiment.create(
        "digits",
        th.SearchSpace({"lr": th.Float(1e-3, 1.0, log=True)}),
        metrics=[th.Metric("acc", goal="maximize")],
        budget=th.Budget(trials=4),
        storage=storage_url,
        method="random",
    )
    for i, trial in enumerate(exp.ask_loop()):
        if i == 2:
            trial.fail("ValueError: bad")
            continue
        trial.report(1, {"acc": 0.5})
        trial.complete({"acc": 0.5 + i / 10})
    return storage_url


def test_status_shows_states_and_best(finished: str) -> None:
    out = cli("status", "digits", "--storage", finished)
    assert out.returncode == 0, out.stderr
    assert "completed=3" in out.stdout and "failed=1" in out.stdout
    assert "best: trial 3  acc=0.8" in out.stdout
    assert "ValueError: bad" in out.stdout
    # the only experiment in the database needs no name
    assert cli("status", "--storage", finished).returncode == 0


def test_best_json_and_export(finished: str, tmp_path) -> None:
    out = cli("best", "digits", "--json", "--storage", finished)
    assert json.loads(out.stdout)["values"] == {"acc": 0.8}
    path = tmp_path / "t.csv"
    js = tmp_path / "t.json"
    out = cli("export", "digits", "--csv", str(path), "--json", str(js), "--storage", finished)
    assert out.returncode == 0, out.stderr
    assert len(list(csv.DictReader(path.open()))) == 4
    data = json.loads(js.read_text())
    assert data["trials"][0]["reports"] == [{"step": 1, "acc": 0.5}]


@pytest.mark.slow  # many CLI subprocesses: CI runs it (--run-slow)
def test_errors_are_one_line_with_exit_code_2(finished: str, tmp_path) -> None:
    out = cli("status", "nope", "--storage", finished)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "no experiment 'nope'" in out.stderr
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"\x00garbage" * 500)
    out = cli("status", "--storage", f"sqlite:///{bad}")
    assert out.returncode == 2 and "not a readable tunehooks database" in out.stderr
    assert out.stderr.strip().count("\n") == 0
    out = cli("export", "digits", "--storage", finished)
    assert out.returncode == 2 and "--csv" in out.stderr


def test_help_lists_commands() -> None:
    out = cli("--help")
    assert out.returncode == 0
    for cmd in ("status", "best", "export"):
        assert cmd in out.stdout


def test_status_into_a_closed_pipe_ends_quietly(finished: str) -> None:
    # `tunehooks status | head -0`: the reader is gone before the first line
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunehooks.cli", "status", "digits", "--storage", finished],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # long before the interpreter has started
    err = proc.stderr.read().decode()
    proc.wait(timeout=30)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 141


def test_export_json_is_strict_json_even_with_nan_reports(storage_url: str, tmp_path) -> None:
    exp = th.Experiment.create(
        "nan",
        th.SearchSpace({"lr": th.Float(1e-3, 1.0, log=True)}),
        metrics=[th.Metric("acc", goal="maximize"), th.Metric("loss", strategy="store")],
        budget=th.Budget(trials=1),
        storage=storage_url,
        method="random",
    )
    for trial in exp.ask_loop():  # a NaN report fails the trial; the report is kept
        assert trial.report(1, {"acc": 0.5, "loss": float("nan")}) is th.Decision.STOP
    path = tmp_path / "t.json"
    assert cli("export", "nan", "--json", str(path), "--storage", storage_url).returncode == 0

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    data = json.loads(path.read_text(), parse_constant=no_constants)
    assert data["trials"][0]["reports"] == [{"step": 1, "acc": 0.5, "loss": None}]
