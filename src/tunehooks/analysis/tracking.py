"""Where results go next: a sweep's trials exported to MLflow or TensorBoard.

:func:`to_mlflow` writes one MLflow run per finished trial (params, every reported
step of every metric, the final values, the state as the run's status and tags),
nested under one parent run for the sweep; :func:`to_tensorboard` writes one
TensorBoard run folder per finished trial (scalars per step and the HParams
plugin's summary, so the trials compare side by side). Running and queued trials
are left out (export a finished sweep, or again later: trials already exported are
skipped). Both packages are optional extras: ``pip install "tunehooks[mlflow]"`` /
``"tunehooks[tensorboard]"``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunehooks._extras import require
from tunehooks.experiment import Experiment
from tunehooks.trial import TrialRecord, TrialState

__all__ = ["ExportResult", "to_mlflow", "to_tensorboard"]

_MLFLOW_STATUS = {
    TrialState.COMPLETED: "FINISHED",
    TrialState.PRUNED: "KILLED",
    TrialState.FAILED: "FAILED",
}
TAG_TRIAL = "tunehooks.trial_id"


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: ``exported`` trials, ``skipped`` ones already there, and
    ``unfinished`` (running or queued) ones left out.

    Example:
        >>> ExportResult(exported=3, skipped=0, unfinished=1, target="mlruns").exported
        3
    """

    exported: int
    skipped: int
    unfinished: int
    target: str


def _flat_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, Mapping):
            out.update(_flat_params(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _ms(t: float | None) -> int | None:
    return None if t is None else int(t * 1000)


def to_mlflow(
    exp: Experiment, *, tracking_uri: str, experiment_name: str | None = None
) -> ExportResult:
    """Export the finished trials of ``exp`` to the MLflow tracking store at ``tracking_uri``
    (``sqlite:///mlflow.db``, a server's ``http://`` URL; MLflow 3 refuses its deprecated
    file store unless ``MLFLOW_ALLOW_FILE_STORE=true``), in the MLflow experiment
    ``experiment_name`` (default: the experiment's name). An error of MLflow's is a
    :class:`ValueError` naming the URI.
    """
    MlflowClient = require("mlflow.tracking", extra="mlflow", what="export to MLflow").MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return _to_mlflow(
            exp, MlflowClient(tracking_uri=tracking_uri), tracking_uri, experiment_name
        )
    except MlflowException as e:
        first = str(e).split(". ")[0]
        raise ValueError(f"mlflow {tracking_uri}: {first}") from None


def _to_mlflow(
    exp: Experiment, client: Any, tracking_uri: str, experiment_name: str | None
) -> ExportResult:
    from mlflow.entities import Metric, Param, RunTag

    name = experiment_name or exp.name
    found = client.get_experiment_by_name(name)
    exp_id = found.experiment_id if found is not None else client.create_experiment(name)
    done: set[str] = set()
    parent_id: str | None = None
    for run in client.search_runs([exp_id], max_results=50000):
        tags = run.data.tags
        if TAG_TRIAL in tags:
            done.add(tags[TAG_TRIAL])
        elif tags.get("tunehooks.sweep") == exp.name:
            parent_id = run.info.run_id
    history = exp.get_trials()
    if parent_id is None:
        parent = client.create_run(
            exp_id,
            run_name=f"{exp.name} (tunehooks sweep)",
            tags={"tunehooks.sweep": exp.name, "tunehooks.method": exp.method.value},
        )
        parent_id = parent.info.run_id
        client.log_param(parent_id, "config", json.dumps(exp.config, default=str)[:6000])
    exported = skipped = unfinished = 0
    for t in history:
        if t.state not in _MLFLOW_STATUS:
            unfinished += 1
            continue
        if str(t.id) in done:
            skipped += 1
            continue
        run = client.create_run(
            exp_id,
            start_time=_ms(t.started_at),
            run_name=f"trial-{t.number}",
            tags={
                "mlflow.parentRunId": parent_id,
                TAG_TRIAL: str(t.id),
                "tunehooks.number": str(t.number),
                "tunehooks.state": t.state.value,
                **({"tunehooks.fidelity": str(t.fidelity)} if t.fidelity is not None else {}),
                **({"tunehooks.error": t.error[:5000]} if t.error else {}),
            },
        )
        rid = run.info.run_id
        params = [Param(k, str(v)) for k, v in _flat_params(t.params).items()]
        metrics = [
            Metric(k, float(v), _ms(r.time) or 0, r.step)
            for r in t.reports
            for k, v in r.metrics.items()
            if _finite(v)
        ]
        last = max((r.step for r in t.reports), default=0)
        stamp = _ms(t.finished_at) or 0
        metrics += [
            Metric(k, float(v), stamp, last)
            for k, v in t.values.items()
            if _finite(v) and not any(r.step == last and k in r.metrics for r in t.reports)
        ]
        for i in range(0, len(params), 90):  # MLflow's batch limits: 100 params, 1000 metrics
            client.log_batch(rid, params=params[i : i + 90])
        for i in range(0, len(metrics), 900):
            client.log_batch(rid, metrics=metrics[i : i + 900])
        client.log_batch(rid, tags=[RunTag("tunehooks.final", json.dumps(_clean(t.values)))])
        client.set_terminated(rid, status=_MLFLOW_STATUS[t.state], end_time=_ms(t.finished_at))
        exported += 1
    return ExportResult(exported, skipped, unfinished, tracking_uri)


def _clean(values: Mapping[str, float]) -> dict[str, float | None]:
    return {k: (float(v) if _finite(v) else None) for k, v in values.items()}


def _run_dir(logdir: Path, t: TrialRecord) -> Path:
    return logdir / f"trial-{t.number:04d}"


def to_tensorboard(exp: Experiment, logdir: str | os.PathLike[str]) -> ExportResult:
    """Export the finished trials of ``exp`` to TensorBoard run folders under ``logdir``
    (``trial-0007/``): each metric's reports as scalars at their steps, and the HParams
    summary (params and final values) so TensorBoard's HParams tab compares trials.
    View with ``tensorboard --logdir LOGDIR``.
    """
    require("tensorboard", extra="tensorboard", what="export to TensorBoard")
    from torch.utils.tensorboard import SummaryWriter

    root = Path(logdir)
    root.mkdir(parents=True, exist_ok=True)
    exported = skipped = unfinished = 0
    for t in exp.get_trials():
        if t.state not in _MLFLOW_STATUS:
            unfinished += 1
            continue
        folder = _run_dir(root, t)
        if folder.exists():
            skipped += 1
            continue
        writer = SummaryWriter(log_dir=str(folder))
        try:
            for r in t.reports:
                for k, v in r.metrics.items():
                    if _finite(v):
                        writer.add_scalar(k, float(v), global_step=r.step, walltime=r.time or None)
            hparams = {
                k: (v if isinstance(v, (int, float, str, bool)) else str(v))
                for k, v in _flat_params(t.params).items()
            }
            hparams["tunehooks/state"] = t.state.value
            finals = {f"final/{k}": float(v) for k, v in t.values.items() if _finite(v)}
            writer.add_hparams(hparams, finals, run_name=".")
        finally:
            writer.close()
        exported += 1
    return ExportResult(exported, skipped, unfinished, str(root))
