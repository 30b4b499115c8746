"""examples/launch: the sweep file loads as documented and its program trains under the launcher."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest

import tunehooks as th
from tunehooks.launch import Launcher, LogProgress, load_sweep

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "launch" / "sweep.yaml"


def test_the_example_sweep_is_12_trials_on_2_workers() -> None:
    sweep = load_sweep(EXAMPLE)
    assert sweep.budget == th.Budget(12) and sweep.workers == 2 and sweep.gpus_per_trial == 0
    assert sweep.program_path is not None and Path(sweep.program_path).exists()
    assert sweep.fidelity is not None and sweep.fidelity.scheduler is th.SchedulerKind.ASHA


@pytest.mark.slow
def test_the_example_program_trains_and_reports_under_the_launcher(tmp_path: Path) -> None:
    sweep = dataclasses.replace(load_sweep(EXAMPLE), budget=th.Budget(2), name="example-e2e")
    out = io.StringIO()
    result = Launcher(
        sweep,
        storage=f"sqlite:///{tmp_path / 'db.sqlite'}",
        runs_dir=tmp_path / "runs",
        progress=LogProgress(out, timestamps=False),
        workers=1,  # the enqueued trial reaches every ASHA rung first, so it always continues
    ).run()
    assert result.failed == 0 and result.completed + result.pruned == 2, out.getvalue()
    exp = th.Experiment.load("example-e2e", storage=f"sqlite:///{tmp_path / 'db.sqlite'}")
    first = exp.get_trials()[0]  # the enqueued configuration trains well
    assert first.state is th.TrialState.COMPLETED and first.values["val_acc"] > 0.9
    assert [r.step for r in first.reports] == list(range(1, 10))
