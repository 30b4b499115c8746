"""The framework examples run standalone (a small local sweep) and finish their trials."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tunehooks as th
from tunehooks.trial import TrialState

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize(
    ("framework", "trials", "epochs"),
    [("torch", 2, 2), ("lightning", 1, 1), ("keras", 1, 1)],
)
def test_example_runs_a_local_sweep(framework, trials, epochs, storage_url, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNEHOOKS_")}
    proc = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / framework / "train.py"),
            f"--trials={trials}",
            f"--epochs={epochs}",
            f"--storage={storage_url}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "best val_acc" in proc.stdout
    recs = th.Experiment.load(f"example-{framework}", storage=storage_url).get_trials()
    assert len(recs) == trials
    assert all(r.state is TrialState.COMPLETED for r in recs)
    assert all([r.step for r in rec.reports] == list(range(1, epochs + 1)) for rec in recs)
