"""Sweep files of W&B, SigOpt (API, Orchestrate, sigopt-python) and Rescale/SMAC load as
written and mean what they mean in their own tool. The files under data/ are real public
files (source and licence in each one's header)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import tunehooks as th
from tunehooks.cli import main
from tunehooks.launch import MacroContext, SweepError, expand_command, load_sweep, parse_sweep
from tunehooks.launch.checks import params_warning
from tunehooks.launch.dialects.commands import smac_result

DATA = Path(__file__).parent / "data"
W = {"method": "random", "metric": {"name": "loss", "goal": "minimize"}, "program": "t.py"}


def _wandb(**parameters: Any) -> Any:
    return parse_sweep({**W, "project": "p", "parameters": parameters})


# -- W&B ---------------------------------------------------------------------------------------
def test_the_wandb_bayes_example_loads_and_runs_until_stopped() -> None:
    sweep = load_sweep(DATA / "wandb" / "sweep-bayes.yaml")
    assert sweep.dialect == "wandb" and sweep.method is th.Method.BAYES
    assert sweep.budget is None  # W&B: until stopped (or an agent's --count)
    assert sweep.with_trials(7).budget == th.Budget(7)
    assert sweep.space.params["epochs"] == th.Constant(5)
    assert sweep.space.params["direction"] == th.Categorical([-1, 0.1, 1])
    assert sweep.notes == (
        "note: W&B keys ignored (they do not change the search): description, project",
    )
    assert sweep.command == ("${env}", "${interpreter}", "${program}", "${args}")
    with pytest.raises(SweepError, match=r"--trials: a positive whole number"):
        sweep.with_trials(0)


def test_the_wandb_local_hyperband_example_keeps_its_bands() -> None:
    sweep = load_sweep(DATA / "wandb" / "sweep-local-hyperband.yaml")
    # max_iter 10, s 2, eta 3: W&B's bands are int(10/3)=3 and int(10/9)=1
    assert sweep.fidelity == th.Fidelity(min=1, max=9, eta=3, scheduler="asha")
    assert sweep.to_dict()["fidelity"]["rungs"] == [1, 3]  # what --dry-run prints
    assert "controller" in sweep.notes[0] and sweep.method is th.Method.GRID


def test_wandb_hyperband_forms() -> None:
    base = {**W, "parameters": {"x": {"min": 0.0, "max": 1.0}}}
    # the W&B docs' form: no max_iter, bands go on as long as the program reports
    s = parse_sweep({**base, "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 3}})
    assert s.open_rungs and s.fidelity is not None and s.fidelity.min_resource == 3
    assert s.fidelity.max_resource >= 1e6 and math.log(
        s.fidelity.max_resource / 3, 3
    ) % 1 == pytest.approx(0)
    shown = s.to_dict()["fidelity"]
    assert shown["max"] is None and shown["rungs"][:3] == [3, 9, 27]
    with pytest.raises(SweepError, match=r"command\[1\]: \$\{fidelity\} needs"):
        parse_sweep(
            {
                **base,
                "command": ["python", "--epochs=${fidelity}"],
                "early_terminate": {"type": "hyperband", "min_iter": 3},
            }
        )
    s = parse_sweep({**base, "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2}})
    assert s.fidelity == th.Fidelity(min=3, max=27, eta=3, scheduler="asha")
    for et, match in [
        ({"min_iter": 3, "s": 2}, r"early_terminate\.s: W&B reads `s` only with `max_iter`"),
        ({"max_iter": 27, "strict": True}, r"early_terminate\.strict: .*not supported"),
        ({}, r"early_terminate: give `min_iter`"),
    ]:
        with pytest.raises(SweepError, match=match):
            parse_sweep({**base, "early_terminate": {"type": "hyperband", **et}})


def test_nested_wandb_parameters_reach_the_program_nested_and_as_its_agent_passes_them() -> None:
    sweep = load_sweep(DATA / "wandb_nested" / "sweep-nested-cli.yaml")
    assert sweep.space.names == ["batch_size", "optimizer.lr", "optimizer.nadam.beta"]
    params = {"batch_size": 32, "optimizer.lr": 0.001, "optimizer.nadam.beta": 0.9}
    ctx = MacroContext(params, "e", layout=sweep.layout)
    assert expand_command(["${args}"], ctx) == [
        "--batch_size=32",
        "--optimizer={'lr': 0.001, 'nadam': {'beta': 0.9}}",  # what wandb agent passes
    ]
    assert expand_command(["${args_json}"], ctx) == [
        '{"batch_size": 32, "optimizer": {"lr": 0.001, "nadam": {"beta": 0.9}}}'
    ]
    assert expand_command(["${args_dotted}"], ctx)[1:] == [
        "--optimizer.lr=0.001",
        "--optimizer.nadam.beta=0.9",
    ]
    dotted = MacroContext(params, "e")  # tunehooks' own layout: dotted flags
    assert expand_command(["${args}"], dotted)[1] == "--optimizer.lr=0.001"


def test_wandb_distributions_mean_what_the_wandb_docs_say() -> None:
    # the forms of W&B's docs (docs.wandb.ai, sweep configuration: `distribution`)
    s = _wandb(
        bs={"distribution": "q_log_uniform_values", "q": 8, "min": 32, "max": 256},
        units={"distribution": "q_log_uniform_values", "min": 16, "max": 512},
        dropout={"distribution": "q_uniform", "min": 0.0, "max": 0.5, "q": 0.1},
        lr={"distribution": "inv_log_uniform_values", "min": 1e-4, "max": 0.1},
        wd={"distribution": "inv_log_uniform", "min": 0, "max": 5},
        seed={"values": [42]},
        norm={"values": [None, "batch", "layer"]},
    )
    p = s.space.params
    assert p["bs"] == th.Int(32, 256, step=8)  # every multiple of 8, as W&B gives
    assert any("every multiple of 8" in n for n in s.notes)
    assert p["units"] == th.Int(16, 512, log=True)
    assert p["dropout"] == th.Categorical([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert p["lr"] == th.Float(1e-4, 0.1, log=True)
    wd = p["wd"]
    assert isinstance(wd, th.Float) and wd.log
    assert (wd.low, wd.high) == (pytest.approx(math.exp(-5)), pytest.approx(1.0))
    assert p["seed"] == th.Constant(42)
    assert p["norm"] == th.Categorical(["None", "batch", "layer"])
    assert s.layout.program_params({"norm": "None"}) == {"norm": None}  # null reaches as None
    with pytest.raises(SweepError, match=r"parameters\.x\.mu: priors are not supported"):
        _wandb(x={"distribution": "normal", "mu": 0, "sigma": 1})
    with pytest.raises(SweepError, match=r"parameters\.x\.q: q=1e-05 gives 100001 values"):
        _wandb(x={"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 1e-5})


def test_wandb_metric_defaults_and_target() -> None:
    s = parse_sweep(
        {
            **W,
            "metric": {"name": "acc", "target": 0.99},
            "controller": {"type": "local"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
        }
    )
    assert s.metrics[0].goal is th.Goal.MINIMIZE  # W&B's default goal
    assert any("minimize, W&B's default" in n for n in s.notes)
    assert any("metric.target is ignored" in n for n in s.notes)


# -- SigOpt ------------------------------------------------------------------------------------
def test_the_stanford_cars_orchestrate_file_loads_with_its_tasks() -> None:
    f = DATA / "sigopt" / "stanford_cars" / "orchestrate_stanford_cars_tuning_config.yml"
    sweep = load_sweep(f)
    assert sweep.dialect == "sigopt" and sweep.name == "Stanford Cars Orchestrate CUDA Full Tuning"
    assert sweep.budget == th.Budget(220) and sweep.workers == 20 and sweep.gpus_per_trial == 1
    assert sweep.fidelity is not None and sweep.fidelity.tasks is not None
    assert [t.name for t in sweep.fidelity.tasks] == ["full", "medium", "small"]
    assert sweep.metrics[0] == th.Metric("accuracy", "maximize")  # SigOpt's default objective
    assert sweep.program == "orchestrate_experiment_wrapper_stanford_cars_cli.py"
    assert sweep.command[:4] == (
        "${interpreter}",
        "${program}",
        "--path_images",
        "./stanford-car-classification/data/",
    )
    assert sweep.command[-1] == "--no-freeze_weights"
    assert sweep.notes[0] == (
        "note: SigOpt keys ignored (they do not change the search): framework, install, "
        "language, repository"
    )
    assert sweep.space.params["nesterov"] == th.Categorical(["True", "False"])


def test_the_pytorch_mnist_orchestrate_file_and_a_cluster_file() -> None:
    sweep = load_sweep(DATA / "sigopt" / "orchestrate-pytorch-mnist.yml")
    assert sweep.command == ("${interpreter}", "${program}") and sweep.program == "model.py"
    assert sweep.budget == th.Budget(200) and sweep.workers == 4 and len(sweep.space.params) == 11
    assert "image" in sweep.notes[0]
    with pytest.raises(SweepError, match=r"^cluster_name: this is a SigOpt Orchestrate cluster"):
        load_sweep(DATA / "sigopt" / "clusters" / "tiny_cluster.yml")


def test_sigopt_python_experiment_yml_takes_its_command_from_run_yml() -> None:
    sweep = load_sweep(DATA / "sigopt" / "experiment_yml" / "experiment.yml")
    assert sweep.command == ("${interpreter}", "${program}") and sweep.program == "model.py"
    assert sweep.budget == th.Budget(10) and sweep.gpus_per_trial == 1 and sweep.workers == 1
    assert [m.goal for m in sweep.metrics] == [th.Goal.MAXIMIZE, th.Goal.MINIMIZE]
    assert sweep.space.params["learning_rate"] == th.Float(1e-5, 1.0, log=True)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"run": "python a.py && python b.py"}, r"^run: '&&' needs a shell"),
        ({"run": ["python a.py", "python b.py"]}, r"^run: give one command \(got 2 items\)"),
        ({"run": "python 'a.py"}, r"^run: cannot split"),
        ({"optimization": {"metricz": []}}, r"^optimization\.metricz: unknown key"),
        ({"optimization": {"num_solutions": 3}}, r"^optimization\.num_solutions: not supported"),
        (
            {"metrics": [{"name": "a", "objective": "maximize", "threshold": 0.8}]},
            r"^metrics\[0\]\.threshold: SigOpt's metric threshold .* `strategy: constraint`",
        ),
    ],
)
def test_sigopt_errors_are_one_line_and_say_what_to_do(change: dict[str, Any], match: str) -> None:
    data: dict[str, Any] = {
        "name": "x",
        "run": "python model.py",
        "optimization": {
            "metrics": [{"name": "a"}],
            "parameters": [{"name": "u", "type": "int", "bounds": {"min": 1, "max": 4}}],
            "observation_budget": 3,
        },
    }
    if "optimization" in change:
        data["optimization"] = {**data["optimization"], **change.pop("optimization")}
    if "metrics" in change:
        data["optimization"]["metrics"] = change.pop("metrics")
    data.update(change)
    with pytest.raises(SweepError, match=match):
        parse_sweep(data)


def test_sigopt_grid_on_a_number_and_run_split_like_a_shell() -> None:
    s = parse_sweep(
        {
            "run": "python3 train.py --name 'a b' --flag",
            "metrics": [{"name": "a", "objective": "maximize"}],
            "parameters": [
                {"name": "u", "type": "int", "grid": [16, 32, 64]},
                {"name": "r", "type": "double", "grid": [0.1, 0.5, 0.7]},
            ],
            "budget": 3,
        }
    )
    assert s.command == ("${interpreter}", "${program}", "--name", "a b", "--flag")
    assert s.space.params["u"] == th.Int(16, 64, power_of_two=True)
    assert s.space.params["r"] == th.Categorical([0.1, 0.5, 0.7])


# -- Rescale / SMAC commands, --dry-run ----------------------------------------------------------
def test_parameter_macros_and_smac_flags() -> None:
    s = parse_sweep(
        {
            **W,
            "command": ["python", "train.py", "--filters=${nb_filters}", "${args_smac}"],
            "parameters": {"nb_filters": {"values": [16, 32]}, "lr": {"min": 0.01, "max": 0.1}},
            "budget": 2,
        }
    )
    ctx = MacroContext({"nb_filters": 16, "lr": 0.05}, "e")
    assert expand_command(s.command, ctx) == [
        "python",
        "train.py",
        "--filters=16",
        "-nb_filters",
        "16",
        "-lr",
        "0.05",
    ]
    assert expand_command(["${args_no_equals}"], ctx) == ["--nb_filters", "16", "--lr", "0.05"]
    assert params_warning(s) is None
    assert smac_result("Result of this algorithm run: SAT, 1.5, 0, 0.25, 3") == {
        "quality": 0.25,
        "runtime": 1.5,
    }
    assert smac_result("Result of this algorithm run: TIMEOUT, 20, 0, 0, 3") is None


def test_dry_run_checks_what_the_launch_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    monkeypatch.chdir(tmp_path)
    base = {
        "name": "d",
        "method": "random",
        "metric": {"name": "y", "goal": "maximize"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
        "budget": 2,
    }
    f = tmp_path / "sweep.yaml"
    f.write_text(yaml.safe_dump({**base, "program": "missing.py"}))
    assert main(["launch", str(f), "--dry-run"]) == 2
    assert "missing.py' not found" in capsys.readouterr().err
    f.write_text(
        yaml.safe_dump(
            {**base, "program": "nopkg.train", "command": ["python", "-m", "${program}"]}
        )
    )
    assert main(["launch", str(f), "--dry-run"]) == 2
    assert "program: module 'nopkg.train' not found" in capsys.readouterr().err
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "train.py").write_text("")
    f.write_text(
        yaml.safe_dump({**base, "program": "pkg.train", "command": ["python", "-m", "${program}"]})
    )
    assert main(["launch", str(f), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# warning: the command passes no parameter to the program")
    assert "python -m pkg.train" in out
