"""transformers.Trainer's TuneCallback on a tiny BERT built from a config (random init, no
download): the digits' 64 pixel values (0-16) are the tokens; decisions are scripted."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from _hf_digits import Rows, digit_rows
from _hf_digits import trainer as _trainer

import tunehooks as th
from tunehooks.integrations._common import MissingMetricError
from tunehooks.integrations.transformers import TuneCallback
from tunehooks.trial import TrialState

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def rows() -> tuple[Rows, Rows]:
    return digit_rows()


def test_reports_each_evaluation_at_the_optimizer_step_and_stops(make_exp, rows, tmp_path):
    exp = make_exp(stop_at=8, monitor="eval_accuracy", lr=(1e-3, 3e-3))
    cb = TuneCallback(exp, monitor="eval_accuracy")
    t = _trainer(cb, rows, tmp_path, lr=cb.trial.params["lr"])
    t.train()
    assert t.state.global_step == 8  # control.should_training_stop at the rung
    rec = cb.trial.refresh()
    assert rec.state is TrialState.PRUNED
    assert [r.step for r in rec.reports] == [4, 8]
    assert {"eval_loss", "eval_accuracy"} <= set(rec.reports[0].metrics)


def test_completes_with_the_last_evaluation_named_as_the_objective(make_exp, rows, tmp_path):
    exp = make_exp(monitor="val_acc", lr=(1e-3, 3e-3))  # the experiment's own name
    cb = TuneCallback(exp, monitor="eval_accuracy")
    _trainer(cb, rows, tmp_path, lr=cb.trial.params["lr"]).train()
    rec = cb.trial.refresh()
    assert rec.state is TrialState.COMPLETED
    assert [r.step for r in rec.reports] == [4, 8, 12, 16]
    assert rec.values["val_acc"] == rec.reports[-1].metrics["eval_accuracy"]


def test_a_missing_objective_fails_at_the_first_evaluation(make_exp, rows, tmp_path):
    exp = make_exp(monitor="val_acc")
    cb = TuneCallback(exp)
    t = _trainer(cb, rows, tmp_path, lr=1e-3)
    with pytest.raises(MissingMetricError, match=r"optimizes 'val_acc'.*'eval_accuracy'"):
        t.train()
    assert t.state.global_step == 4
    assert cb.trial.refresh().state is TrialState.FAILED


def test_a_training_that_raises_in_the_loop_fails_with_the_error(make_exp, rows, tmp_path):
    exp = make_exp(trials=2, monitor="eval_accuracy", lr=(1e-3, 3e-3))
    for trial in exp.ask_loop():
        with contextlib.suppress(IndexError):
            cb = TuneCallback(trial, monitor="eval_accuracy")
            t = _trainer(cb, rows, tmp_path, lr=trial.params["lr"], bad_labels=trial.number == 0)
            t.train()
    first, second = exp.get_trials()
    assert first.state is TrialState.FAILED and (first.error or "").startswith("IndexError")
    assert second.state is TrialState.COMPLETED


def test_torchrun_ranks_train_rank0s_trials_and_stop_together(storage_url, tmp_path) -> None:
    env = {**os.environ, "STORAGE_URL": storage_url, "OUT_DIR": str(tmp_path)}
    env["PYTHONPATH"] = str(HERE)
    for name in ("TUNEHOOKS_TRIAL_ID", "TUNEHOOKS_EXPERIMENT", "TUNEHOOKS_DDP_JOB", "LOCAL_RANK"):
        env.pop(name, None)
    script = str(HERE / "_hf_ddp_script.py")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            script,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    trials = th.Experiment.load("hf-loop", storage=storage_url).get_trials()
    assert rank0 == rank1 == [[t.id, t.params["lr"], 8] for t in trials]
    assert [t.state for t in trials] == [TrialState.PRUNED, TrialState.PRUNED]
    assert [[r.step for r in t.reports] for t in trials] == [[4, 8], [4, 8]]
