"""The framework examples run standalone (a small local sweep) and finish their trials.

They run in this process (``runpy``), so the frameworks the other tests imported are
not imported again.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

import pytest

import tunehooks as th
from tunehooks.trial import TrialState

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize(
    ("framework", "trials", "epochs"),
    [("torch", 2, 2), ("lightning", 2, 1), ("keras", 2, 1)],
)
def test_example_runs_a_local_sweep(
    framework, trials, epochs, storage_url, tmp_path, monkeypatch, capsys
) -> None:
    for name in list(os.environ):
        if name.startswith("TUNEHOOKS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    script = EXAMPLES / framework / "train.py"
    argv = [str(script), f"--trials={trials}", f"--epochs={epochs}", f"--storage={storage_url}"]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(script), run_name="__main__")
    assert "best val_acc" in capsys.readouterr().out
    recs = th.Experiment.load(f"example-{framework}", storage=storage_url).get_trials()
    assert len(recs) == trials
    assert all(r.state is TrialState.COMPLETED for r in recs)
    assert all([r.step for r in rec.reports] == list(range(1, epochs + 1)) for rec in recs)


def test_the_launcher_drives_the_torch_example_through_the_environment(
    storage_url, tmp_path, monkeypatch
) -> None:
    """`tunehooks launch` runs train.py per trial; the script reads its trial from the
    environment and ends it through the integration (ASHA may prune it)."""
    import subprocess

    sweep = (EXAMPLES / "torch" / "sweep.yaml").read_text()
    sweep = sweep.replace("program: train.py", f"program: {EXAMPLES / 'torch' / 'train.py'}")
    sweep = sweep.replace("budget: {trials: 10}", "budget: {trials: 2}")
    sweep = sweep.replace("max: 9", "max: 3")
    (tmp_path / "sweep.yaml").write_text(sweep)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNEHOOKS_")}
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "tunehooks"),
            "launch",
            str(tmp_path / "sweep.yaml"),
            f"--storage={storage_url}",
            f"--runs-dir={tmp_path / 'runs'}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    recs = th.Experiment.load("example-torch", storage=storage_url).get_trials()
    assert len(recs) == 2
    assert all(r.state in (TrialState.COMPLETED, TrialState.PRUNED) for r in recs)
    assert all(r.reports and r.reports[0].step == 1 for r in recs)
    assert all(r.last_step <= 3 for r in recs)  # --epochs=${fidelity} and trial.fidelity agree


def test_the_quickstart_example_tunes_digits(storage_url, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    script = EXAMPLES / "quickstart" / "tune_digits.py"
    argv = [str(script), "--trials=3", "--epochs=2", "--seed=0", f"--storage={storage_url}"]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(script), run_name="__main__")
    assert "best val_acc=" in capsys.readouterr().out
    exp = th.Experiment.load("quickstart-digits", storage=storage_url)
    assert exp.method is th.Method.BAYES and len(exp.get_trials()) == 3
    assert exp.best is not None and exp.best.values["val_acc"] > 0.5


def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    code = readme.split("## In Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)  # the snippet writes tunehooks.db in the working folder
    seen: list[dict] = []

    def train(**params) -> float:  # the user's training, here a smooth function of the params
        seen.append(params)
        return 1.0 - abs(params["lr"] - 0.01) - 0.01 * params["layers"]

    assert "budget=th.Budget(trials=40)" in code
    code = code.replace("budget=th.Budget(trials=40)", "budget=th.Budget(trials=8)")
    exec(compile(code, "README.md", "exec"), {"train": train})
    exp = th.Experiment.load("digits-mlp", storage=f"sqlite:///{tmp_path / 'tunehooks.db'}")
    assert len(exp.get_trials()) == len(seen) == 8
    # the conditional parameter is present exactly for sgd
    assert all(("momentum" in p) == (p["optimizer"] == "sgd") for p in seen)
    assert exp.best is not None and exp.best.state is TrialState.COMPLETED
