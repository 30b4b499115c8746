"""W&B and SigOpt programs run unchanged: what the launcher gives their trial process.

A sweep written for W&B or SigOpt has programs that take their parameters from the
client library (``wandb.config``, ``sigopt.params`` / ``sigopt.get_parameter``) and
report through it (``wandb.log``, ``sigopt.log_metric``). For such a sweep,
:func:`client_env` gives the trial:

- W&B's own agent mechanism: the trial's parameters in a W&B config file
  (``{name: {value: v}}``, nested groups nested) named by ``WANDB_SWEEP_PARAM_PATH``,
  which ``wandb.init()`` reads into ``wandb.config`` as it does under ``wandb agent``;
  ``WANDB_MODE=disabled`` unless the user set ``WANDB_MODE`` or ``WANDB_API_KEY``
  (no account, no network), and ``WANDB_DIR`` inside the trial's run folder;
- a folder first on ``PYTHONPATH`` whose ``sitecustomize`` (it runs any other
  ``sitecustomize`` too) patches ``wandb`` and ``sigopt`` as they are imported:
  ``wandb.log`` and ``sigopt.log_metric`` also print ``tunehooks:`` report lines, the
  trial's parameters are in ``sigopt.params`` and ``sigopt.get_parameter``, its task
  in ``sigopt.get_task()``. The scheduler's STOP ends the process, as W&B's hyperband
  ends a run. The patch needs neither tunehooks nor the network in the trial's
  interpreter (see ``_site/_tunehooks_clients.py``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunehooks.launch.sweep import Sweep

__all__ = ["SITE_DIR", "client_env", "wandb_config_text"]

SITE_DIR = str(Path(__file__).resolve().parent / "_site")
"""The folder put first on a client sweep's ``PYTHONPATH`` (its ``sitecustomize``)."""


def wandb_config_text(params: Mapping[str, Any]) -> str:
    """W&B's config file (what ``wandb agent`` writes), as JSON (which is YAML).

    Example:
        >>> print(wandb_config_text({"lr": 0.1}).strip())
        {"wandb_version": 1, "lr": {"value": 0.1}}
    """
    body = {k: {"value": v} for k, v in params.items()}
    return json.dumps({"wandb_version": 1, **body}) + "\n"


def client_env(
    sweep: Sweep,
    env: Mapping[str, str],
    params: Mapping[str, Any],
    run_dir: Path,
    task: str | None = None,
) -> dict[str, str]:
    """Environment additions for one trial of ``sweep`` (none unless its dialect has a
    client library); its ``templates:`` are filled in into ``run_dir`` first."""
    run_dir = Path(run_dir).resolve()
    program_params = sweep.layout.program_params(params)
    if sweep.templates:
        from tunehooks.launch.dialects.commands import render_templates

        values = {k: sweep.layout.program_value(v) for k, v in params.items()}
        render_templates(sweep.templates, run_dir, {**program_params, **values})
    if not sweep.clients:
        return {}
    out: dict[str, str] = {}
    shown = sweep.layout.flags(params)  # sigopt: flat names; W&B: top-level groups
    (run_dir / "client-params.json").write_text(json.dumps(dict(shown), default=str))
    out["TUNEHOOKS_CLIENT_PARAMS"] = str(run_dir / "client-params.json")
    out["TUNEHOOKS_CLIENTS"] = ",".join(sweep.clients)
    if task is not None:
        out["TUNEHOOKS_TASK"] = task
        tasks = None if sweep.fidelity is None else sweep.fidelity.tasks
        cost = next((t.cost for t in tasks or () if t.name == task), None)
        if cost is not None:
            out["TUNEHOOKS_TASK_COST"] = repr(float(cost))
    if "wandb" in sweep.clients:
        config = run_dir / "wandb-config.yaml"
        config.write_text(wandb_config_text(program_params))
        out["WANDB_SWEEP_PARAM_PATH"] = str(config)
        out["WANDB_DIR"] = str(run_dir)
        if not env.get("WANDB_MODE") and not env.get("WANDB_API_KEY"):
            out["WANDB_MODE"] = "disabled"
    path = env.get("PYTHONPATH", "")
    out["PYTHONPATH"] = SITE_DIR + (os.pathsep + path if path else "")
    return out
