"""``tunehooks launch --dry-run``: the normalized sweep and the first commands, nothing run."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from tunehooks.launch.macros import MacroContext, expand_command

if TYPE_CHECKING:
    from tunehooks.launch.sweep import Sweep

__all__ = ["dry_run"]

_SCRATCH = "sqlite://"


def dry_run(sweep: Sweep, *, storage: str | None = None, commands: int = 3) -> str:
    """The normalized sweep (YAML) and the first ``commands`` trial commands.

    Suggestions come from a scratch in-memory experiment: the sweep's storage
    is neither created nor written.
    """
    import yaml

    from tunehooks.storage import default_storage_url, open_storage

    url = storage or sweep.storage or default_storage_url()
    data = sweep.to_dict()
    data["storage"] = url
    out = ["# normalized sweep", yaml.safe_dump(data, sort_keys=False).rstrip(), ""]
    out.append(f"# first {commands} commands (environment: TUNEHOOKS_STORAGE={url} ")
    out.append(f"#   TUNEHOOKS_EXPERIMENT={sweep.name} TUNEHOOKS_TRIAL_ID=<id>)")
    scratch = open_storage(_SCRATCH)
    if sweep.name in scratch.list_experiments():
        scratch.delete_experiment(sweep.name)
    try:
        exp = sweep._create(_SCRATCH, None, load_if_exists=False)
        for params in sweep.enqueue:
            exp.enqueue(params)
        for _ in range(commands):
            trial = exp.ask(worker_id="dry-run")
            if trial is None:
                out.append("# (the budget allows no more trials)")
                break
            task = None if sweep.fidelity is None else sweep.fidelity.task(trial.fidelity)
            ctx = MacroContext(
                params=trial.params,
                experiment=sweep.name,
                trial_id=f"<id{trial.number}>",
                trial_number=trial.number,
                program=sweep.program_path,
                fidelity=trial.fidelity,
                task=None if task is None else task.name,
                run_dir=f"runs/{sweep.name}/<id{trial.number}>",
                args_json_file=f"runs/{sweep.name}/<id{trial.number}>/params.json",
            )
            out.append(shlex.join(expand_command(sweep.command, ctx)))
    finally:
        if sweep.name in scratch.list_experiments():
            scratch.delete_experiment(sweep.name)
    return "\n".join(out)
