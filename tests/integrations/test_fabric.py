"""Lightning Fabric's loop helper: one process in-process, and a 2-process gloo DDP run
launched by fabric.launch() (the process group exists before the first ask)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lightning")

import tunehooks as th
from tunehooks.integrations.fabric import fabric_loop
from tunehooks.trial import TrialState

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent


def test_one_process_stops_at_the_rung(make_exp) -> None:
    from lightning.fabric import Fabric

    exp = make_exp(stop_at=2)
    with fabric_loop(Fabric(accelerator="cpu", devices=1), exp, monitor="val_acc") as loop:
        epochs = [e for e in loop.epochs(max_epochs=5) if loop.report(e, {"val_acc": 0.1 * e})]
    assert epochs == [1, 2]
    rec = loop.trial.refresh()
    assert rec.state is TrialState.PRUNED and [r.step for r in rec.reports] == [1, 2]


def test_ddp_ranks_train_rank0s_trials_and_stop_together(storage_url, tmp_path) -> None:
    env = {**os.environ, "STORAGE_URL": storage_url, "OUT_DIR": str(tmp_path), "STOP_AT": "2"}
    env["PYTHONPATH"] = str(HERE)
    for name in ("TUNEHOOKS_TRIAL_ID", "TUNEHOOKS_EXPERIMENT", "TUNEHOOKS_DDP_JOB", "LOCAL_RANK"):
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, str(HERE / "_fabric_script.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    trials = th.Experiment.load("fabric-loop", storage=storage_url).get_trials()
    assert rank0 == rank1 == [[t.id, t.params["lr"], 2] for t in trials]
    assert [t.state for t in trials] == [TrialState.PRUNED, TrialState.PRUNED]
    assert [[r.step for r in t.reports] for t in trials] == [[1, 2], [1, 2]]
