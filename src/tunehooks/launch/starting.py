"""What a trial starts with: its run folder (``params.json``, ``command.json``), its
command line (the sweep's ``command:`` with the macros expanded) and its environment."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tunehooks.launch.clients import client_env
from tunehooks.launch.devices import Slot
from tunehooks.launch.macros import MacroContext, expand_command
from tunehooks.launch.process import safe_name, trial_env
from tunehooks.trial import Trial

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment
    from tunehooks.launch.sweep import Sweep

__all__ = ["TrialStart", "prepare_start"]


@dataclass(frozen=True)
class TrialStart:
    """The command line, environment and run folder of one trial about to start.

    Example:
        >>> TrialStart(["true"], {}, Path("/tmp")).argv
        ['true']
    """

    argv: list[str]
    env: dict[str, str]
    run_dir: Path
    task: str | None = None


def prepare_start(
    exp: Experiment,
    sweep: Sweep,
    trial: Trial,
    slot: Slot,
    *,
    runs_dir: Path,
    base_env: Mapping[str, str],
    hide_gpus: bool,
    pci_order: bool,
) -> TrialStart:
    """Write the trial's run folder and return what to start it with."""
    run_dir = runs_dir / safe_name(exp.name) / str(trial.id)
    run_dir.mkdir(parents=True, exist_ok=True)
    params_file = run_dir / "params.json"
    params_file.write_text(
        json.dumps(sweep.layout.program_params(trial.params), indent=1, sort_keys=True)
    )
    task = None if sweep.fidelity is None else sweep.fidelity.task(trial.fidelity)
    ctx = MacroContext(
        params=trial.params,
        experiment=exp.name,
        trial_id=trial.id,
        trial_number=trial.number,
        program=sweep.program_path,
        fidelity=trial.fidelity,
        task=None if task is None else task.name,
        run_dir=str(run_dir),
        args_json_file=str(params_file),
        layout=sweep.layout,
    )
    argv = expand_command(sweep.command, ctx)
    env = trial_env(
        base_env,
        storage=exp.storage.url,
        experiment=exp.name,
        trial_id=trial.id,
        run_dir=run_dir,
        gpus=slot.gpus,
        hide_gpus=hide_gpus,
        pci_order=pci_order,
    )
    env.update(client_env(sweep, env, trial.params, run_dir, ctx.task))
    (run_dir / "command.json").write_text(
        json.dumps({"argv": argv, "slot": slot.describe(), "trial": trial.number}, indent=1)
    )
    return TrialStart(argv, env, run_dir, ctx.task)
