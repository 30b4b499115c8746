"""Lightning's TuneCallback trains real tiny models on digits; decisions are scripted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lightning")

import lightning.pytorch as pl
from _lightning_digits import DigitsModule, loaders, trainer

import tunehooks as th
from tunehooks.context import ENV_EXPERIMENT, ENV_STORAGE, ENV_TRIAL_ID, NoTrialError
from tunehooks.integrations._common import MissingMetricError
from tunehooks.integrations.lightning import ReportEvery, TuneCallback
from tunehooks.trial import TrialState

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent


@pytest.fixture
def dl(digits):
    return loaders(digits)


def test_reports_each_validation_but_not_the_sanity_check_and_stops(make_exp, dl) -> None:
    exp = make_exp(stop_at=2)
    cb = TuneCallback(exp, monitor="val_acc")
    t = trainer(cb, max_epochs=6, num_sanity_val_steps=1)
    t.fit(DigitsModule(**cb.trial.params), *dl)
    assert exp.scheduler.calls == [1, 2]  # type: ignore[attr-defined]
    assert t.current_epoch == 2  # stopped after the second epoch
    rec = cb.trial.refresh()
    assert rec.state is TrialState.PRUNED  # by the callback; nothing called after fit
    assert [r.step for r in rec.reports] == [1, 2]
    assert set(rec.reports[0].metrics) == {"val_acc", "train_loss"}


def test_completes_with_the_final_metrics(make_exp, dl) -> None:
    exp = make_exp()
    cb = TuneCallback(exp, monitor="val_acc")
    t = trainer(cb, max_epochs=3)
    t.fit(DigitsModule(**cb.trial.params), *dl)
    rec = cb.trial.refresh()
    assert rec.state is TrialState.COMPLETED
    assert [r.step for r in rec.reports] == [1, 2, 3]
    assert rec.values["val_acc"] == pytest.approx(float(t.callback_metrics["val_acc"]))
    assert rec.values["val_acc"] > 0.5


def test_without_a_validation_loop_the_training_metrics_are_reported(make_exp, dl) -> None:
    exp = make_exp(monitor="train_loss", goal="minimize")
    cb = TuneCallback(exp, monitor="train_loss")
    trainer(cb, max_epochs=2).fit(DigitsModule(0.01), dl[0])  # no val dataloader
    rec = cb.trial.refresh()
    assert rec.state is TrialState.COMPLETED
    assert [r.step for r in rec.reports] == [1, 2]
    assert set(rec.reports[0].metrics) == {"train_loss"}


def test_an_error_in_training_fails_the_trial_with_the_error(make_exp, dl) -> None:
    exp = make_exp()
    cb = TuneCallback(exp)
    with pytest.raises(RuntimeError, match="boom at epoch 2"):
        trainer(cb, max_epochs=4).fit(DigitsModule(0.01, fail_at=2), *dl)
    rec = cb.trial.refresh()
    assert rec.state is TrialState.FAILED
    assert rec.error == "RuntimeError: boom at epoch 2"
    assert [r.step for r in rec.reports] == [1]


def test_missing_monitor_lists_the_logged_metrics(make_exp, dl) -> None:
    exp = make_exp()
    cb = TuneCallback(exp, monitor="val_acc")
    with pytest.raises(MissingMetricError, match=r"they are: 'train_loss', 'val_accuracy'"):
        trainer(cb, max_epochs=2).fit(DigitsModule(0.01, val_name="val_accuracy"), *dl)
    assert cb.trial.refresh().state is TrialState.FAILED


def test_nan_fails_the_trial_and_the_next_trial_runs(make_exp, dl) -> None:
    exp = make_exp(trials=2)
    epochs = []
    for trial in exp.ask_loop():
        t = trainer(TuneCallback(trial, monitor="val_acc"), max_epochs=3)
        t.fit(DigitsModule(**trial.params, nan_at=2 if trial.number == 0 else None), *dl)
        epochs.append(t.current_epoch)
    first, second = exp.get_trials()
    assert first.state is TrialState.FAILED
    assert "'train_loss' is nan at step 2" in (first.error or "")
    assert second.state is TrialState.COMPLETED
    assert epochs == [2, 3]


def test_a_monitor_named_otherwise_is_reported_as_the_objective(make_exp, dl) -> None:
    exp = make_exp(stop_at=2, monitor="val_accuracy")  # the module logs it as val_acc
    cb = TuneCallback(exp, monitor="val_acc")
    t = trainer(cb, max_epochs=5)
    t.fit(DigitsModule(**cb.trial.params), *dl)
    assert t.current_epoch == 2  # pruned at its rung: the scheduler saw val_accuracy
    rec = cb.trial.refresh()
    assert rec.state is TrialState.PRUNED
    assert all(r.metrics["val_accuracy"] == r.metrics["val_acc"] for r in rec.reports)


def test_an_objective_missing_from_the_metrics_fails_at_the_first_epoch(make_exp, dl) -> None:
    exp = make_exp(monitor="val_accuracy")
    cb = TuneCallback(exp)  # no monitor: nothing says which metric is val_accuracy
    t = trainer(cb, max_epochs=5)
    with pytest.raises(MissingMetricError, match=r"optimizes 'val_accuracy'.*'val_acc'"):
        t.fit(DigitsModule(**cb.trial.params), *dl)
    assert t.current_epoch == 0
    assert cb.trial.refresh().state is TrialState.FAILED


def test_two_fits_in_the_loop_continue_one_curve(make_exp, dl) -> None:
    exp = make_exp(trials=1)
    for trial in exp.ask_loop():
        model = DigitsModule(**trial.params)
        trainer(TuneCallback(trial, monitor="val_acc"), max_epochs=2).fit(model, *dl)
        trainer(TuneCallback(trial, monitor="val_acc"), max_epochs=2).fit(model, *dl)
    (rec,) = exp.get_trials()
    assert rec.state is TrialState.COMPLETED
    assert [r.step for r in rec.reports] == [1, 2, 3, 4]


def test_a_stop_that_min_epochs_overrides_is_said_once(make_exp, dl) -> None:
    exp = make_exp(stop_at=1)
    cb = TuneCallback(exp, monitor="val_acc")
    t = trainer(cb, max_epochs=6, min_epochs=3)
    with pytest.warns(RuntimeWarning, match=r"min_epochs=3") as said:
        t.fit(DigitsModule(**cb.trial.params), *dl)
    assert t.current_epoch == 3
    assert len([w for w in said if "tunehooks" in str(w.message)]) == 1
    assert cb.trial.refresh().state is TrialState.PRUNED


def test_half_epoch_validations_report_the_end_of_each_epoch(make_exp, dl) -> None:
    exp = make_exp()
    cb = TuneCallback(exp, monitor="val_acc")
    seen = []

    class Last(pl.Callback):
        def on_validation_end(self, trainer, pl_module) -> None:
            if not trainer.sanity_checking:
                seen.append(float(trainer.callback_metrics["val_acc"]))

    t = trainer(cb, max_epochs=2, val_check_interval=0.5)
    t.callbacks.append(Last())
    t.fit(DigitsModule(**cb.trial.params), *dl)
    rec = cb.trial.refresh()
    assert len(seen) == 4  # two validations per epoch
    assert exp.scheduler.calls == [1, 2]  # type: ignore[attr-defined]  # judged once an epoch
    assert [r.step for r in rec.reports] == [1, 2]
    assert [r.metrics["val_acc"] for r in rec.reports] == [seen[1], seen[3]]  # the epochs' ends


def test_every_validation_reports_at_the_optimizer_step(make_exp, digits) -> None:
    # one long epoch, validated every 4 batches, can be pruned at a rung in optimizer steps
    exp = make_exp(stop_at=8)
    cb = TuneCallback(exp, monitor="val_acc", every=ReportEvery.VALIDATION)
    t = trainer(cb, max_epochs=1, val_check_interval=4)
    t.fit(DigitsModule(**cb.trial.params), *loaders(digits))  # 10 batches
    rec = cb.trial.refresh()
    assert [r.step for r in rec.reports] == [4, 8]
    assert rec.state is TrialState.PRUNED and t.global_step == 8


def test_no_trial_argument_reads_the_launchers_trial(
    make_exp, dl, storage_url, monkeypatch
) -> None:
    exp = make_exp()
    exp.enqueue({"lr": 0.02})
    started = exp.ask()
    monkeypatch.setenv(ENV_STORAGE, storage_url)
    monkeypatch.setenv(ENV_EXPERIMENT, exp.name)
    monkeypatch.setenv(ENV_TRIAL_ID, str(started.id))
    cb = TuneCallback(monitor="val_acc")
    assert cb.trial.id == started.id and cb.trial.params == {"lr": 0.02}
    trainer(cb, max_epochs=1).fit(DigitsModule(**cb.trial.params), *dl)
    assert started.refresh().state is TrialState.COMPLETED
    assert len(exp.get_trials()) == 1


def test_without_a_trial_id_the_asked_trial_is_exported_for_the_fit_only(
    make_exp, dl, storage_url, monkeypatch
) -> None:
    exp = make_exp(trials=2)
    monkeypatch.setenv(ENV_STORAGE, storage_url)
    monkeypatch.setenv(ENV_EXPERIMENT, exp.name)
    monkeypatch.delenv(ENV_TRIAL_ID, raising=False)
    for local_rank in ("LOCAL_RANK", "RANK"):
        monkeypatch.delenv(local_rank, raising=False)
    cb = TuneCallback()
    assert os.environ[ENV_TRIAL_ID] == str(cb.trial.id)  # ranks started by fit read it
    trainer(cb, max_epochs=1).fit(DigitsModule(**cb.trial.params), *dl)
    assert ENV_TRIAL_ID not in os.environ
    cb = TuneCallback()  # the next trial; removed again when fit raises
    assert cb.trial.number == 1
    with pytest.raises(RuntimeError, match="boom"):
        trainer(cb, max_epochs=1).fit(DigitsModule(0.01, fail_at=1), *dl)
    assert ENV_TRIAL_ID not in os.environ
    assert [r.state for r in exp.get_trials()] == [TrialState.COMPLETED, TrialState.FAILED]


def test_a_ddp_rank_without_a_trial_id_refuses_to_ask_its_own(
    make_exp, storage_url, monkeypatch
) -> None:
    exp = make_exp()
    monkeypatch.setenv(ENV_STORAGE, storage_url)
    monkeypatch.setenv(ENV_EXPERIMENT, exp.name)
    monkeypatch.delenv(ENV_TRIAL_ID, raising=False)
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(NoTrialError, match="rank 1 has no TUNEHOOKS_TRIAL_ID"):
        TuneCallback()
    assert exp.get_trials() == []


def _run_ddp(
    exp, storage_url, tmp_path, mode: str, trial_id: int | None, **extra: str
) -> list[dict]:
    env = {
        **os.environ,
        ENV_STORAGE: storage_url,
        ENV_EXPERIMENT: exp.name,
        "OUT_DIR": str(tmp_path),
        "MODE": mode,
        "STOP_AT": "2",
        "PYTHONPATH": str(HERE),
        **extra,
    }
    env.pop(ENV_TRIAL_ID, None)
    if trial_id is not None:
        env[ENV_TRIAL_ID] = str(trial_id)
    proc = subprocess.run(
        [sys.executable, str(HERE / "_ddp_script.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_ddp_ranks_train_the_launchers_trial_and_stop_together(
    make_exp, storage_url, tmp_path
) -> None:
    exp = make_exp(stop_at=2)
    started = exp.ask()
    ranks = _run_ddp(exp, storage_url, tmp_path, "launcher", started.id)
    assert [r["trial_id"] for r in ranks] == [started.id, started.id]
    assert ranks[0]["params"] == ranks[1]["params"] == started.params
    assert [r["epochs"] for r in ranks] == [2, 2]  # the stop reached both ranks
    assert [r["writer"] for r in ranks] == [True, False]
    (rec,) = exp.get_trials()  # one trial
    assert rec.state is TrialState.PRUNED  # by the callback: no manual call after fit
    assert [r.step for r in rec.reports] == [1, 2]  # one set of reports
    assert all(r.metrics["rank"] == 0.0 for r in rec.reports)  # written by rank 0 alone


def test_ddp_without_launcher_hands_rank0s_trial_to_every_rank(
    make_exp, storage_url, tmp_path
) -> None:
    exp = make_exp()
    ranks = _run_ddp(exp, storage_url, tmp_path, "nan", None)
    (rec,) = exp.get_trials()  # rank 1 did not ask for a trial of its own
    assert [r["trial_id"] for r in ranks] == [rec.id, rec.id]
    assert [r["epochs"] for r in ranks] == [2, 2]  # rank 0's NaN verdict stopped both
    assert rec.state is TrialState.FAILED
    assert "is nan at step 2" in (rec.error or "")


@pytest.mark.slow
def test_ddp_a_paused_trial_resumes_on_every_rank_from_rank0s_checkpoint(
    storage_url, tmp_path
) -> None:
    from _resumable import PauseThenPromote

    exp = th.Experiment.create(
        "ddp-resume",
        th.SearchSpace({"lr": th.Float(0.01, 0.05, log=True)}),
        metrics=[th.Metric("val_acc", goal="maximize"), th.Metric("rank", strategy="store")],
        budget=th.Budget(trials=1),
        fidelity=th.Fidelity(min=1, max=10),  # new trials: 10, paused at 3, promoted to 9
        storage=storage_url,
        method="random",
        seed=0,
        scheduler=PauseThenPromote(),
    )
    ckpt = str(tmp_path / "ckpt")
    first = exp.ask()
    ranks = _run_ddp(exp, storage_url, tmp_path, "resume", first.id, TUNEHOOKS_CHECKPOINT_DIR=ckpt)
    assert [r["epochs"] for r in ranks] == [3, 3] and [r["restored"] for r in ranks] == [None] * 2
    assert exp.get_trials()[0].state is TrialState.PAUSED
    promoted = exp.ask()
    assert promoted is not None and promoted.id == first.id
    ranks = _run_ddp(exp, storage_url, tmp_path, "resume", first.id, TUNEHOOKS_CHECKPOINT_DIR=ckpt)
    assert [r["restored"] for r in ranks] == [3, 3]  # every rank loaded rank 0's checkpoint
    assert [r["epochs"] for r in ranks] == [9, 9]
    assert ranks[0]["weight_sum"] == ranks[1]["weight_sum"]
    (rec,) = exp.get_trials()
    assert rec.state is TrialState.COMPLETED
    assert [r.step for r in rec.reports] == list(range(1, 10))
