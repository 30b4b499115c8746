"""Programs written for W&B, SigOpt, Rescale and SMAC, run unchanged by ``tunehooks launch``:
real trial processes, the real ``wandb`` and ``sigopt`` packages (no account, no network)."""

from __future__ import annotations

import io
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

import tunehooks as th
from tunehooks.launch import Launcher, LogProgress, load_sweep
from tunehooks.trial import TrialState

DATA = Path(__file__).parent / "data"
pytestmark = pytest.mark.slow


def _launch(tmp_path: Path, sweep_file: Path, **kw: Any) -> tuple[Any, str, Any]:
    out = io.StringIO()
    sweep = load_sweep(sweep_file)
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("WANDB_")}
    result = Launcher(
        sweep,
        storage=db,
        runs_dir=tmp_path / "runs",
        progress=LogProgress(out, timestamps=False),
        cwd=tmp_path,
        poll_interval=0.05,
        env=env,
        **kw,
    ).run()
    return result, out.getvalue(), th.Experiment.load(sweep.name, storage=db)


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_the_wandb_nested_example_runs_unchanged(tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    for f in ("sweep-nested-cli.yaml", "train-nested-cli.py"):
        shutil.copy(DATA / "wandb_nested" / f, tmp_path / f)
    result, log, exp = _launch(tmp_path, tmp_path / "sweep-nested-cli.yaml", workers=2)
    assert result.completed == 8 and result.failed == 0, log  # the whole 2x2x2 grid
    trials = exp.get_trials()
    seen = {
        (t.params["batch_size"], t.params["optimizer.lr"], t.params["optimizer.nadam.beta"])
        for t in trials
    }
    assert len(seen) == 8
    t = trials[0]
    assert [r.step for r in t.reports] == [0, 1, 2, 3, 4]  # per wandb.log call, W&B's _step
    lr, bs = t.params["optimizer.lr"], t.params["batch_size"]
    assert t.values["loss"] == pytest.approx(1 - (4 / 5) * lr * bs)
    stdout = (tmp_path / "runs" / exp.name / str(t.id) / "stdout.log").read_text()
    assert "'optimizer': {'lr': " in stdout  # wandb.config got the nested groups
    assert not (tmp_path / "wandb").exists()  # W&B disabled: nothing written outside runs/


def test_wandb_hyperband_stops_runs_as_wandb_does(tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    _write(
        tmp_path / "train.py",
        """
        import time
        import wandb

        run = wandb.init(config={"x": 0.0})
        for epoch in range(9):
            wandb.log({"epoch": epoch + 1, "val_loss": wandb.config.x + 1.0 / (epoch + 1)})
            time.sleep(0.05)
        """,
    )
    _write(
        tmp_path / "sweep.yaml",
        """
        program: train.py
        method: grid
        metric: {name: val_loss, goal: minimize}
        early_terminate: {type: hyperband, min_iter: 1, eta: 3}
        parameters:
          x: {values: [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]}
        """,
    )
    result, log, exp = _launch(tmp_path, tmp_path / "sweep.yaml", workers=1)
    trials = exp.get_trials()
    assert result.started == 6 and result.failed == 0, log
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    assert pruned and all(t.params["x"] > 0 for t in pruned), log
    assert all(max(r.step for r in t.reports) < 9 for t in pruned)  # ended before epoch 9
    best = exp.best
    assert best is not None and best.params["x"] == 0.0


def test_an_orchestrate_file_with_tasks_and_sigopt_calls(tmp_path: Path) -> None:
    pytest.importorskip("sigopt")
    _write(
        tmp_path / "model.py",
        """
        import sigopt
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        task = sigopt.get_task()
        X, y = load_digits(return_X_y=True)
        n = int(len(X) * task.cost)
        Xtr, Xte, ytr, yte = train_test_split(X[:n], y[:n], test_size=0.3, random_state=0)
        model = LogisticRegression(C=10 ** sigopt.get_parameter("log_c"),
                                   max_iter=sigopt.params.max_iter).fit(Xtr, ytr)
        sigopt.log_metric("accuracy", model.score(Xte, yte))
        print("task", task.name)
        """,
    )
    # shaped as sigopt-examples' Stanford Cars Orchestrate file (tests/launch/data/sigopt/)
    _write(
        tmp_path / "orchestrate.yml",
        """
        name: digits-orchestrate
        framework: python
        install:
          - pip install scikit-learn
        run: python model.py
        resources_per_model:
          gpus: 0
        optimization:
          metrics:
            - name: accuracy
          parameters:
            - name: log_c
              type: double
              bounds: {min: -3, max: 1}
            - name: max_iter
              type: int
              grid: [200, 400]
          tasks:
            - name: small
              cost: 0.25
            - name: full
              cost: 1.0
          parallel_bandwidth: 2
          observation_budget: 4
        image: orchestrate/digits
        """,
    )
    result, log, exp = _launch(tmp_path, tmp_path / "orchestrate.yml")
    assert result.completed == 4 and result.failed == 0, log
    tasks = {"small", "full"}
    for t in exp.get_trials():
        assert 0.5 < t.values["accuracy"] <= 1.0
        stdout = (tmp_path / "runs" / exp.name / str(t.id) / "stdout.log").read_text()
        name = stdout.split("task ", 1)[1].split()[0]
        assert name in tasks and f"task={name}" in log  # tasks keep their names
        assert exp.fidelity is not None and exp.fidelity.task(t.fidelity).name == name


def test_a_rescale_template_and_a_smac_wrapper(tmp_path: Path) -> None:
    # Rescale DOE: ${nb_filters} inside a templated script, rendered per trial
    _write(
        tmp_path / "model_template.py",
        """
        NB_FILTERS = ${nb_filters}
        DROPOUT = ${dropout}
        print("acc\\t%.4f" % (1.0 - abs(NB_FILTERS - 32) / 100 - DROPOUT / 10))
        """,
    )
    (tmp_path / "sweep.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "rescale",
                "command": ["${interpreter}", "${run_dir}/model_template.py"],
                "templates": ["model_template.py"],
                "method": "random",
                "metric": {"name": "acc", "goal": "maximize"},
                "parameters": {
                    "nb_filters": {"values": [16, 32, 64]},
                    "dropout": {"min": 0.0, "max": 0.5},
                },
                "budget": 3,
                "resources": {"workers": 1, "gpus_per_trial": 0},
            }
        )
    )
    result, log, exp = _launch(tmp_path, tmp_path / "sweep.yaml")
    assert result.completed == 3, log
    for t in exp.get_trials():
        want = 1.0 - abs(t.params["nb_filters"] - 32) / 100 - t.params["dropout"] / 10
        assert t.values["acc"] == pytest.approx(want, abs=1e-4)
    # SMAC's wrapper convention: `-name value` flags in, the result line out
    _write(
        tmp_path / "wrapper.py",
        """
        import sys

        args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
        x, y = float(args["-x"]), int(args["-y"])
        quality = (x - 0.3) ** 2 + y
        print(f"Result of this algorithm run: SAT, 0.01, 0, {quality}, 0")
        """,
    )
    (tmp_path / "smac.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "smac",
                "program": "wrapper.py",
                "command": ["${interpreter}", "${program}", "${args_smac}"],
                "method": "random",
                "metric": {"name": "quality", "goal": "minimize"},
                "parameters": {"x": {"min": 0.0, "max": 1.0}, "y": {"values": [0, 1]}},
                "budget": 3,
                "resources": {"workers": 1, "gpus_per_trial": 0},
            }
        )
    )
    (tmp_path / "db.sqlite").unlink()
    result, log, exp = _launch(tmp_path, tmp_path / "smac.yaml")
    assert result.completed == 3, log
    for t in exp.get_trials():
        want = (t.params["x"] - 0.3) ** 2 + t.params["y"]
        assert t.values["quality"] == pytest.approx(want)
