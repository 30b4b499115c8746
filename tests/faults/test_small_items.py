"""Smaller sharp edges: run folders outside the runs folder, shell quoting, trial names."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

import tunehooks as th
from tunehooks.launch import Launcher, LogProgress, parse_sweep
from tunehooks.launch.macros import MacroContext, expand_command


def _sweep(tmp_path: Path, **overrides: Any) -> Any:
    data = {
        "name": "t",
        "program": "train.py",
        "command": ["${interpreter}", "${program}", "${args}"],
        "method": "random",
        "metric": {"name": "y", "goal": "maximize"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
        "budget": {"trials": 2},
        "resources": {"workers": 1, "gpus_per_trial": 0},
        **overrides,
    }
    return parse_sweep(data, path=tmp_path / "sweep.yaml")


def _launch(tmp_path: Path, sweep: Any) -> tuple[Any, str]:
    out = io.StringIO()
    result = Launcher(
        sweep,
        storage=f"sqlite:///{tmp_path / 'db.sqlite'}",
        runs_dir=tmp_path / "work" / "runs",
        progress=LogProgress(out, timestamps=False),
        cwd=tmp_path,
        poll_interval=0.05,
    ).run()
    return result, out.getvalue()


@pytest.mark.parametrize("name", ["..", ".", "../../etc", "/tmp/abs"])
def test_an_experiment_name_never_puts_run_folders_outside_the_runs_folder(
    tmp_path: Path, name: str
) -> None:
    (tmp_path / "train.py").write_text("print('tunehooks: {\"y\": 1}')\n")
    result, log = _launch(tmp_path, _sweep(tmp_path, name=name))
    assert result.completed == 2, log
    runs = (tmp_path / "work" / "runs").resolve()
    made = [p for p in tmp_path.rglob("params.json")]
    assert len(made) == 2 and all(runs in p.resolve().parents for p in made), made


SEE_ARGS = """
    import json, os, sys
    with open(os.path.join(os.environ["TUNEHOOKS_RUN_DIR"], "argv.json"), "w") as f:
        json.dump(sys.argv[1:], f)
    print('tunehooks: {"y": 1}')
"""


def test_args_quoted_keeps_values_literal_inside_a_users_shell_command(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    hostile = [f"; touch {pwned}", f"$(touch {pwned})", f"it's `touch {pwned}`"]
    (tmp_path / "train.py").write_text(textwrap.dedent(SEE_ARGS))
    sweep = _sweep(
        tmp_path,
        command=["/bin/sh", "-c", "${interpreter} ${program} ${args_quoted}"],
        parameters={"opt": {"values": hostile}},
        budget={"trials": 3},
        method="grid",
    )
    result, log = _launch(tmp_path, sweep)
    assert result.completed == 3, log
    assert not pwned.exists()
    seen = sorted(
        json.loads(p.read_text())[0] for p in (tmp_path / "work" / "runs").rglob("argv.json")
    )
    assert seen == sorted(f"--opt={h}" for h in hostile)
    assert "warning" not in log


def test_a_shell_command_with_an_unquoted_macro_is_warned_about(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(textwrap.dedent(SEE_ARGS))
    sweep = _sweep(tmp_path, command=["/bin/sh", "-c", "${interpreter} ${program} ${args}"])
    _, log = _launch(tmp_path, sweep)
    assert "warning: command[2] passes ${args} to a shell" in log and "${args_quoted}" in log


def test_args_quoted_expansion() -> None:
    ctx = MacroContext({"a": "x y", "b": 0.5}, "e")
    assert expand_command(["sh", "-c", "run ${args_quoted}"], ctx) == [
        "sh",
        "-c",
        "run '--a=x y' --b=0.5",
    ]


def test_errors_name_a_trial_by_its_number(storage_url: str) -> None:
    def make(name: str) -> th.Experiment:
        return th.Experiment.create(
            name, th.SearchSpace({"x": th.Float(0, 1)}), metrics=[th.Metric("y", goal="maximize")],
            budget=th.Budget(trials=3), storage=storage_url, method="random",
        )  # fmt: skip

    first, second = make("a"), make("b")
    for _ in range(3):
        t = first.ask()
        assert t is not None
        t.complete({"y": 0.0})
    trial = second.ask()  # database id 4, number 0
    assert trial is not None and trial.id != trial.number
    trial.complete({"y": 1.0})
    with pytest.raises(th.TrialStateError, match=r"^trial 0 is already COMPLETED"):
        second.storage.finish(trial.id, th.TrialState.FAILED)
    with pytest.raises(th.TrialStateError, match=r"^trial 0 is COMPLETED; it accepts no more"):
        second.storage.add_report(trial.id, 5, {"y": 1.0})
