"""The framework examples run standalone (a small local sweep) and finish their trials.

They run in this process (``runpy``), so the frameworks the other tests imported are
not imported again.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

import pytest

import tunehooks as th
from tunehooks.trial import TrialState

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize(
    ("framework", "trials", "epochs"),
    [("torch", 2, 2), ("lightning", 2, 1), ("keras", 2, 1)],
)
def test_example_runs_a_local_sweep(
    framework, trials, epochs, storage_url, tmp_path, monkeypatch, capsys
) -> None:
    for name in list(os.environ):
        if name.startswith("TUNEHOOKS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    script = EXAMPLES / framework / "train.py"
    argv = [str(script), f"--trials={trials}", f"--epochs={epochs}", f"--storage={storage_url}"]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(script), run_name="__main__")
    assert "best val_acc" in capsys.readouterr().out
    recs = th.Experiment.load(f"example-{framework}", storage=storage_url).get_trials()
    assert len(recs) == trials
    assert all(r.state is TrialState.COMPLETED for r in recs)
    assert all([r.step for r in rec.reports] == list(range(1, epochs + 1)) for rec in recs)
