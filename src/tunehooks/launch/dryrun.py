"""``tunehooks launch --dry-run``: the normalized sweep and the first commands, nothing run."""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING

from tunehooks.launch.macros import MacroContext, expand_command

if TYPE_CHECKING:
    from tunehooks.launch.sweep import Sweep

__all__ = ["dry_run", "first_commands"]

_SCRATCH = "sqlite://"


def first_commands(sweep: Sweep, n: int = 3) -> list[list[str]]:
    """The argv of the first ``n`` trials (queued ones first), as the launcher would run them.

    Suggestions come from a scratch in-memory experiment: the sweep's storage
    is neither created nor written.
    """
    from tunehooks.storage import open_storage

    scratch = open_storage(_SCRATCH)
    if sweep.name in scratch.list_experiments():
        scratch.delete_experiment(sweep.name)
    out = []
    try:
        exp = sweep._create(_SCRATCH, None, load_if_exists=False)
        for params in sweep.enqueue:
            exp.enqueue(params)
        for _ in range(n):
            trial = exp.ask(worker_id="dry-run")
            if trial is None:
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
                layout=sweep.layout,
            )
            out.append(expand_command(sweep.command, ctx))
    finally:
        if sweep.name in scratch.list_experiments():
            scratch.delete_experiment(sweep.name)
    return out


def dry_run(
    sweep: Sweep, *, storage: str | None = None, commands: int = 3, as_json: bool = False
) -> str:
    """The normalized sweep and its first ``commands`` commands, as YAML text or JSON."""
    from tunehooks._urls import mask_url
    from tunehooks.launch._schema import SweepError
    from tunehooks.launch.checks import params_warning, program_problem
    from tunehooks.launch.macros import shell_warning
    from tunehooks.storage import default_storage_url

    warnings = [w for w in (params_warning(sweep), shell_warning(sweep.command)) if w]
    url = mask_url(storage or sweep.storage or default_storage_url())
    data = sweep.to_dict()
    data["storage"] = url
    argvs = first_commands(sweep, commands)
    problem = program_problem(sweep)
    if problem is not None:
        raise SweepError(problem)  # what the launch itself refuses
    if as_json:
        return json.dumps({"sweep": data, "commands": argvs, "warnings": warnings}, indent=1)
    import yaml

    out = [f"# {w}" for w in warnings]
    out += ["# normalized sweep", yaml.safe_dump(data, sort_keys=False).rstrip(), ""]
    out.append(f"# first {commands} commands (environment: TUNEHOOKS_STORAGE={url} ")
    out.append(f"#   TUNEHOOKS_EXPERIMENT={sweep.name} TUNEHOOKS_TRIAL_ID=<id>)")
    out += [shlex.join(argv) for argv in argvs]
    if len(argvs) < commands:
        out.append("# (the budget allows no more trials)")
    return "\n".join(out)
