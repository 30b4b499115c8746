"""The sweep file: both dialects load, errors name the YAML path and the fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import tunehooks as th
from tunehooks.launch import SweepError, load_sweep, parse_sweep

SPEC_EXAMPLE = textwrap.dedent(
    """
    name: digits-mlp
    storage: sqlite:///tunehooks.db
    program: train.py
    command: [python, "${program}", "--epochs=${fidelity}", "${args}"]
    method: bayes
    metrics:
      - {name: val_acc, goal: maximize}
      - {name: latency_ms, goal: minimize, strategy: constraint, threshold: 25}
      - {name: train_loss, strategy: store}
    parameters:
      lr:         {distribution: log_uniform_values, min: 1.0e-4, max: 0.3}
      batch_size: {values: [16, 32, 64, 128]}
      width:      {type: int, bounds: {min: 16, max: 512}, transformation: log}
      optimizer:  {values: [sgd, adam]}
      momentum:   {min: 0.0, max: 0.99, conditions: {optimizer: [sgd]}}
      dropout:    {min: 0.0, max: 0.6}
      seed:       {value: 0}
    budget:
      trials: 60
      cost: 30
    resources:
      workers: 4
      gpus_per_trial: 1
    fidelity:
      resource: epoch
      min: 1
      max: 27
      eta: 3
      scheduler: asha
    on_failure: {retries: 1}
    enqueue:
      - {lr: 0.01, batch_size: 64, width: 128, optimizer: adam, dropout: 0.2, seed: 0}
    """
)

BASE = {
    "program": "train.py",
    "method": "random",
    "metric": {"name": "acc", "goal": "maximize"},
    "parameters": {"lr": {"min": 0.001, "max": 0.1}},
    "budget": {"trials": 5},
}


def _err(data: dict, match: str) -> None:
    with pytest.raises(SweepError, match=match):
        parse_sweep(data)


def test_the_format_documents_example_loads(tmp_path: Path) -> None:
    f = tmp_path / "sweep.yaml"
    f.write_text(SPEC_EXAMPLE)
    sweep = load_sweep(f)
    assert sweep.name == "digits-mlp" and sweep.method is th.Method.BAYES
    p = sweep.space.params
    assert p["lr"] == th.Float(1e-4, 0.3, log=True)
    assert p["batch_size"] == th.Int(16, 128, power_of_two=True)  # consecutive powers of two
    assert p["width"] == th.Int(16, 512, log=True)
    assert p["optimizer"] == th.Categorical(["sgd", "adam"])
    assert p["momentum"] == th.Float(0.0, 0.99, condition={"optimizer": ["sgd"]})
    assert p["seed"] == th.Constant(0)
    assert [m.strategy for m in sweep.metrics] == [
        th.Strategy.OPTIMIZE,
        th.Strategy.CONSTRAINT,
        th.Strategy.STORE,
    ]
    assert sweep.budget == th.Budget(60, cost=30)
    assert sweep.fidelity == th.Fidelity(min=1, max=27, eta=3, scheduler="asha")
    assert (sweep.workers, sweep.gpus_per_trial, sweep.retries) == (4, 1, 1)
    assert sweep.enqueue[0]["width"] == 128 and "momentum" not in sweep.enqueue[0]
    assert sweep.program_path == str(tmp_path / "train.py")
    assert sweep.to_dict()["parameters"]["lr"] == {
        "type": "float",
        "low": 0.0001,
        "high": 0.3,
        "log": True,
    }


def test_sigopt_dialect_loads_and_normalizes_like_wandb() -> None:
    sigopt = {
        "name": "s",
        "program": "train.py",
        "type": "offline",
        "metrics": [
            {"name": "acc", "objective": "maximize"},
            {"name": "ms", "objective": "minimize", "strategy": "constraint", "threshold": 9},
        ],
        "parameters": [
            {
                "name": "lr",
                "type": "double",
                "bounds": {"min": 1e-4, "max": 0.3},
                "transformation": "log",
            },
            {"name": "units", "type": "int", "bounds": {"min": 2, "max": 8}},
            {"name": "a", "type": "double", "bounds": {"min": 0, "max": 1}},
            {"name": "b", "type": "double", "bounds": {"min": 0, "max": 1}},
            {
                "name": "act",
                "type": "categorical",
                "categorical_values": [{"name": "relu"}, {"name": "tanh"}],
            },
            {
                "name": "mom",
                "type": "double",
                "bounds": {"min": 0, "max": 1},
                "conditions": {"opt": "sgd"},
            },
        ],
        "conditionals": [{"name": "opt", "values": ["sgd", "adam"]}],
        "linear_constraints": [
            {
                "type": "less_than",
                "threshold": 1,
                "terms": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}],
            }
        ],
        "observation_budget": 30,
        "parallel_bandwidth": 3,
        "fidelity": {"tasks": [{"name": "short", "cost": 0.25}, {"name": "full", "cost": 1.0}]},
    }
    sweep = parse_sweep(sigopt)
    wandb = parse_sweep(
        {
            "name": "s",
            "program": "train.py",
            "method": "bayes",
            "metrics": [
                {"name": "acc", "goal": "maximize"},
                {"name": "ms", "goal": "minimize", "strategy": "constraint", "threshold": 9},
            ],
            "parameters": {
                "opt": {"values": ["sgd", "adam"]},
                "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 0.3},
                "units": {"distribution": "int_uniform", "min": 2, "max": 8},
                "a": {"distribution": "uniform", "min": 0, "max": 1},
                "b": {"min": 0.0, "max": 1.0},
                "act": {"values": ["relu", "tanh"]},
                "mom": {"min": 0.0, "max": 1.0, "conditions": {"opt": ["sgd"]}},
            },
            "linear_constraints": [
                {
                    "type": "less_than",
                    "threshold": 1,
                    "terms": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}],
                }
            ],
            "run_cap": 30,
            "resources": {"workers": 3},
            "fidelity": {"tasks": [{"name": "short", "cost": 0.25}, {"name": "full", "cost": 1.0}]},
        }
    )
    assert sweep.space == wandb.space
    assert sweep.metrics == wandb.metrics and sweep.budget == wandb.budget
    assert sweep.workers == wandb.workers == 3
    assert sweep.method is th.Method.BAYES
    assert sweep.fidelity is not None and sweep.fidelity.task(0.25).name == "short"  # type: ignore[union-attr]


def test_wandb_extras_early_terminate_default_command_and_string_yaml_numbers(
    tmp_path: Path,
) -> None:
    f = tmp_path / "mysweep.yaml"
    # PyYAML reads 1e-4 (no dot) as a string: it must still be a number here
    f.write_text(
        textwrap.dedent(
            """
            program: train.py
            method: random
            project: demo
            metric: {name: loss, goal: minimize, target: 0.1}
            parameters:
              lr: {distribution: log_uniform_values, min: 1e-4, max: 1e-1}
              layers: {distribution: q_uniform, min: 1, max: 5, q: 2}
              wd: {distribution: log_uniform, min: -5, max: 0}
            run_cap: 7
            early_terminate: {type: hyperband, min_iter: 3, max_iter: 27, eta: 3}
            """
        )
    )
    sweep = load_sweep(f)
    assert sweep.name == "mysweep"
    assert sweep.command == ("${env}", "${interpreter}", "${program}", "${args}")
    assert sweep.space.params["lr"] == th.Float(1e-4, 0.1, log=True)
    # W&B's q_uniform is round(X / q) * q: the multiples of q in [min, max]
    assert sweep.space.params["layers"] == th.Int(2, 4, step=2)
    wd = sweep.space.params["wd"]
    assert isinstance(wd, th.Float) and wd.log and wd.high == pytest.approx(1.0)
    assert sweep.fidelity == th.Fidelity(min=3, max=27, eta=3, scheduler="asha")
    assert sweep.budget == th.Budget(7)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            {"parameters": {"lr": {"distribution": "log_uniform_values", "min": 0, "max": 1}}},
            r"parameters\.lr: log scale needs min > 0 \(got 0",
        ),
        ({"metric": {"name": "acc"}}, r"metric\.goal: required .*goal: maximize"),
        (
            {"parameters": {"lr": {"min": 0.1, "max": 1.0, "distribtion": "uniform"}}},
            r"parameters\.lr\.distribtion: unknown key; did you mean `distribution`",
        ),
        (
            {"parameters": {"opt": {"type": "categorical", "categorical_values": ["adam"]}}},
            r"parameters\.opt\.categorical_values: a categorical needs at least two values",
        ),
        ({"budgett": 3}, r"budgett: unknown key; did you mean `budget`"),
        ({"method": "tpe"}, r"method: use one of bayes"),
        (
            {"parameters": {"m": {"min": 0.0, "max": 1.0, "conditions": {"opt": ["sgd"]}}}},
            r"parameters\.m: condition names unknown parameter 'opt'",
        ),
        (
            {
                "metrics": [{"name": "a", "goal": "maximize", "strategy": "constraint"}],
                "metric": None,
            },
            r"metrics\[0\]: .*needs a threshold",
        ),
        (
            {"command": ["python", "${program}", "${epochs}"]},
            r"command\[2\]: unknown macro \$\{epochs\}",
        ),
        (
            {"command": ["python", "x.py", "--e=${fidelity}"]},
            r"command\[2\]: \$\{fidelity\} needs a `fidelity:`",
        ),
        ({"fidelity": {"min": 1}}, r"fidelity\.max is required"),
        ({"enqueue": [{"lr": 5.0}]}, r"enqueue\[0\]: lr: 5\.0 is outside"),
        (
            {"parameters": {"x": {"distribution": "normal", "mu": 0, "sigma": 1}}},
            r"parameters\.x\.mu: priors are not supported",
        ),
        ({"resources": {"workers": 0}}, r"resources\.workers: must be between 1 and 1024"),
        ({"budget": "abc"}, r"^budget: should be a mapping .* or an integer \(got 'abc'\)$"),
        (
            {"parameters": {"x": {"min": "low", "max": 1}}},
            r"^parameters\.x\.min: should be an integer or a number",
        ),
        (
            {"metric": {"name": "acc", "goal": "maximise"}},
            r"^metric\.goal: expected one of 'maximize'",
        ),
        (
            {"parameters": {"x": {"values": [1, 2], "min": 0}}},
            r"parameters\.x: give `values` .* not both",
        ),
        (
            {
                "parameters": {
                    "b": {"type": "int", "bounds": {"min": 16, "max": 100}, "power_of_two": True}
                }
            },
            r"parameters\.b: power_of_two needs min and max to be powers of two",
        ),
        ({"on_failure": {"retries": -1}}, r"on_failure\.retries: .*between 0 and 100"),
        (
            {"parameters": {"u": {"type": "int", "bounds": {"min": 1, "max": 2.5}}}},
            r"parameters\.u\.max: an integer parameter needs integer bounds",
        ),
    ],
)
def test_errors_name_the_yaml_path_and_the_fix(change: dict, match: str) -> None:
    data = {**BASE, **change}
    _err({k: v for k, v in data.items() if v is not None}, match)


def test_powers_of_two_and_log_integers_stay_integers() -> None:
    sweep = parse_sweep(
        {
            **BASE,
            "parameters": {
                "b": {"type": "int", "bounds": {"min": 16, "max": 256}, "power_of_two": True},
                "w": {"type": "int", "bounds": {"min": 8, "max": 512}, "transformation": "log"},
                "k": {"values": [8, 16, 64]},  # not consecutive: stays a categorical
            },
        }
    )
    assert sweep.space.params["b"] == th.Int(16, 256, power_of_two=True)
    assert sweep.space.params["w"] == th.Int(8, 512, log=True)
    assert sweep.space.params["k"] == th.Categorical([8, 16, 64])


def test_a_command_string_is_split_never_run_by_a_shell() -> None:
    sweep = parse_sweep({**BASE, "command": "python ${program} --lr=${args_json} '--a b'"})
    assert sweep.command == ("python", "${program}", "--lr=${args_json}", "--a b")


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_sweep(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("parameters: [unclosed")
    with pytest.raises(SweepError, match="not valid YAML"):
        load_sweep(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(SweepError, match="expected a mapping"):
        load_sweep(bad)


def test_relaunch_with_a_changed_space_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    sweep = parse_sweep({**BASE, "name": "same", "enqueue": [{"lr": 0.01}]})
    exp = sweep.open_experiment(storage=url)
    again = sweep.open_experiment(storage=url)  # a relaunch loads it and queues nothing twice
    assert again.id == exp.id and len(again.get_trials()) == 1
    changed = parse_sweep({**BASE, "name": "same", "parameters": {"lr": {"min": 0.0, "max": 1.0}}})
    with pytest.raises(
        SweepError,
        match=r"name: experiment 'same' already exists .* different space; .* new `name:`",
    ):
        changed.open_experiment(storage=url)


def test_the_example_in_docs_launch_md_loads() -> None:
    import yaml

    text = (Path(__file__).resolve().parents[2] / "docs" / "launch.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    sweep = parse_sweep(yaml.safe_load(block))
    assert sweep.name == "digits-mlp" and len(sweep.space.params) == 7
    assert sweep.budget == th.Budget(60, cost=30) and sweep.workers == 4


def test_checkpoint_dir_is_read_from_the_sweep_files_folder(tmp_path: Path) -> None:
    import json

    (tmp_path / "sweep.yaml").write_text(json.dumps({**BASE, "checkpoint_dir": "ckpt"}))
    assert load_sweep(tmp_path / "sweep.yaml").checkpoint_dir == (tmp_path / "ckpt").resolve()
    assert parse_sweep({**BASE, "checkpoint_dir": "/shared/ckpt"}).checkpoint_dir == Path(
        "/shared/ckpt"
    )
    assert parse_sweep(BASE).checkpoint_dir is None
    _err({**BASE, "checkpoint_dir": " "}, "checkpoint_dir: empty")
