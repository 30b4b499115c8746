"""A sweep interrupted through ``tunehooks launch`` resumes its trials from their
checkpoints on the next launch: SIGTERM to the launcher (what Slurm sends before a job's
time limit), and kill -9 of the launcher and its trial (a lost machine)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tunehooks as th

pytestmark = pytest.mark.slow

PROGRAM = """
import time
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset
from sklearn.datasets import load_digits

from tunehooks.integrations.lightning import TuneCallback


class Net(pl.LightningModule):
    def __init__(self, lr):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
        self.lr = lr

    def training_step(self, batch, idx):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch, idx):
        x, y = batch
        self.log("val_acc", (self.net(x).argmax(1) == y).float().mean())

    def on_train_epoch_start(self):
        with open(Path(__import__("os").environ["TUNEHOOKS_RUN_DIR"]) / "epochs.log", "a") as f:
            f.write(f"{self.current_epoch + 1}\\n")

    def on_fit_start(self):
        with open(Path(__import__("os").environ["TUNEHOOKS_RUN_DIR"]) / "epochs.log", "a") as f:
            f.write("run\\n")

    def on_train_epoch_end(self):
        time.sleep(float(__import__("os").environ.get("EPOCH_SLEEP", "0.6")))  # time to interrupt

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


pl.seed_everything(0, verbose=False)
x, y = load_digits(return_X_y=True)
x = torch.tensor(x / 16.0, dtype=torch.float32)
y = torch.tensor(y)
train = DataLoader(TensorDataset(x[:512], y[:512]), batch_size=64, shuffle=True)
val = DataLoader(TensorDataset(x[512:768], y[512:768]), batch_size=256)
cb = TuneCallback(monitor="val_acc")
pl.Trainer(max_epochs=round(cb.trial.fidelity or 6), callbacks=[cb], accelerator="cpu", logger=False,
           enable_checkpointing=False, enable_progress_bar=False,
           enable_model_summary=False).fit(Net(cb.trial.params["lr"]), train, val)
"""

SWEEP = {
    "name": "resume",
    "program": "train.py",
    "command": ["${interpreter}", "${program}"],
    "method": "random",
    "metric": {"name": "val_acc", "goal": "maximize"},
    "parameters": {"lr": {"min": 0.001, "max": 0.01}},
    "budget": {"trials": 1},
    "resources": {"workers": 1, "gpus_per_trial": 0},
}


def _setup(tmp_path: Path) -> str:
    (tmp_path / "train.py").write_text(textwrap.dedent(PROGRAM))
    (tmp_path / "sweep.yaml").write_text(json.dumps(SWEEP))  # JSON is YAML
    return f"sqlite:///{tmp_path / 'db.sqlite'}"


def _launch(tmp_path: Path, url: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tunehooks", "launch", "sweep.yaml", "--storage", url],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", **env},
    )


def _wait_for_reports(url: str, n: int, proc: subprocess.Popen[str], timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            trials = th.Experiment.load("resume", storage=url).get_trials()
        except Exception:
            trials = []
        if trials and len(trials[0].reports) >= n:
            return
        time.sleep(0.2)
    raise AssertionError("the trial did not report in time")


def _epochs(tmp_path: Path) -> list[int]:
    (log,) = (tmp_path / "runs").rglob("epochs.log")
    return [int(line) for line in log.read_text().split() if line != "run"]


def _finish(tmp_path: Path, url: str) -> th.TrialRecord:
    again = _launch(tmp_path, url)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    (trial,) = th.Experiment.load("resume", storage=url).get_trials()
    assert trial.state is th.TrialState.COMPLETED, (trial, out)
    assert [r.step for r in trial.reports] == [1, 2, 3, 4, 5, 6], out
    return trial


def test_sigterm_to_the_launcher_pauses_the_trial_and_the_next_launch_resumes_it(
    tmp_path: Path,
) -> None:
    url = _setup(tmp_path)
    first = _launch(tmp_path, url)
    _wait_for_reports(url, 2, first)
    first.send_signal(signal.SIGTERM)
    out, _ = first.communicate(timeout=120)
    (trial,) = th.Experiment.load("resume", storage=url).get_trials()
    assert trial.state is th.TrialState.PAUSED and trial.interrupted, (trial, out)
    stopped_at = trial.last_step
    _finish(tmp_path, url)
    epochs = _epochs(tmp_path)
    # the second run starts after the checkpoint (the last report, or the one before
    # when SIGTERM landed between a report and its save)
    restart = epochs.index(1, 1) if epochs.count(1) > 1 else None
    assert restart is None, epochs  # never from epoch 1 again
    assert epochs[-1] == 6 and len(epochs) <= 6 + 1 and stopped_at is not None
    status = subprocess.run(
        [sys.executable, "-m", "tunehooks", "status", "--storage", url],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "checkpoints: 1 trial, " in status.stdout, status.stdout  # the best one is kept


def test_kill_9_of_the_launcher_and_its_trial_resumes_from_the_checkpoint(tmp_path: Path) -> None:
    url = _setup(tmp_path)
    first = _launch(tmp_path, url)
    _wait_for_reports(url, 3, first)
    (process_file,) = (tmp_path / "runs").rglob("process.json")
    os.killpg(json.loads(process_file.read_text())["pgid"], signal.SIGKILL)  # the trial
    os.killpg(first.pid, signal.SIGKILL)  # and its launcher: the machine is gone
    first.communicate(timeout=60)
    trial = _finish(tmp_path, url)
    assert trial.attempt == 0  # the same trial, resumed: no new attempt
    epochs = _epochs(tmp_path)
    assert epochs.count(1) == 1 and epochs[-1] == 6, epochs


def test_a_promotion_sweep_through_launch_resumes_paused_trials(tmp_path: Path) -> None:
    url = _setup(tmp_path)
    sweep = {
        **SWEEP,
        "budget": {"trials": 3},
        "fidelity": {"min": 1, "max": 3, "eta": 3, "scheduler": "asha_promotion"},
    }
    (tmp_path / "sweep.yaml").write_text(json.dumps(sweep))
    proc = _launch(tmp_path, url, EPOCH_SLEEP="0")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    trials = th.Experiment.load("resume", storage=url).get_trials()
    assert len(trials) == 3 and all(t.attempt == 0 for t in trials), out
    resumed = 0
    for t in trials:
        steps = [r.step for r in t.reports]
        assert steps == list(range(1, len(steps) + 1)), (t, out)  # one curve, no gap
        log = (tmp_path / "runs" / "resume" / str(t.id) / "epochs.log").read_text().split()
        epochs = [int(x) for x in log if x != "run"]
        assert epochs == list(range(1, len(epochs) + 1)), (t.number, log)  # never retrained
        resumed += log.count("run") > 1
    assert resumed >= 1, out
    assert max(len(t.reports) for t in trials) == 3  # paused at rung 1, promoted to 3


PLAIN = """
import json, os, time
from pathlib import Path

from tunehooks.integrations.torch import tune_loop


class Counter:  # any object with save(folder) and load(folder) is a state
    value = 0

    def save(self, folder):
        (Path(folder) / "counter.json").write_text(json.dumps(self.value))

    def load(self, folder):
        self.value = json.loads((Path(folder) / "counter.json").read_text())


state = Counter()
with tune_loop(monitor="y", state=state) as loop:
    with open(Path(os.environ["TUNEHOOKS_RUN_DIR"]) / "epochs.log", "a") as f:
        f.write("run\\n")
    for epoch in loop.epochs(max_epochs=8):
        state.value += epoch
        with open(Path(os.environ["TUNEHOOKS_RUN_DIR"]) / "epochs.log", "a") as f:
            f.write(f"{epoch}\\n")
        loop.report(epoch, {"y": state.value})
        time.sleep(0.4)
"""


def test_sigterm_ends_a_plain_loop_and_its_checkpoint_makes_it_resume(tmp_path: Path) -> None:
    url = _setup(tmp_path)
    (tmp_path / "train.py").write_text(textwrap.dedent(PLAIN))
    sweep = {**SWEEP, "metric": {"name": "y", "goal": "maximize"}}
    (tmp_path / "sweep.yaml").write_text(json.dumps(sweep))
    first = _launch(tmp_path, url)
    _wait_for_reports(url, 3, first)
    first.send_signal(signal.SIGTERM)  # the program dies of it: no handler, no exception
    out, _ = first.communicate(timeout=120)
    (trial,) = th.Experiment.load("resume", storage=url).get_trials()
    assert trial.state is th.TrialState.PAUSED and trial.interrupted, (trial, out)
    again = _launch(tmp_path, url)
    out, _ = again.communicate(timeout=120)
    (trial,) = th.Experiment.load("resume", storage=url).get_trials()
    assert trial.state is th.TrialState.COMPLETED, (trial, out)
    assert [r.step for r in trial.reports] == list(range(1, 9))
    assert trial.values["y"] == sum(range(1, 9))  # the counter continued from its checkpoint
    log = next((tmp_path / "runs").rglob("epochs.log")).read_text().split()
    assert log.count("run") == 2 and log.count("1") == 1, log


def test_a_sweeps_checkpoint_dir_holds_the_checkpoints_the_next_launch_resumes_from(
    tmp_path: Path,
) -> None:
    url = _setup(tmp_path)
    (tmp_path / "train.py").write_text(textwrap.dedent(PLAIN))
    sweep = {**SWEEP, "metric": {"name": "y", "goal": "maximize"}, "checkpoint_dir": "shared"}
    (tmp_path / "sweep.yaml").write_text(json.dumps(sweep))
    env = {k: v for k, v in os.environ.items() if k != "TUNEHOOKS_CHECKPOINT_DIR"}
    first = subprocess.Popen(
        [sys.executable, "-m", "tunehooks", "launch", "sweep.yaml", "--storage", url],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**env, "OMP_NUM_THREADS": "1"},
    )
    _wait_for_reports(url, 3, first)
    first.send_signal(signal.SIGTERM)
    out, _ = first.communicate(timeout=120)
    (trial,) = th.Experiment.load("resume", storage=url).get_trials()
    assert trial.state is th.TrialState.PAUSED and trial.interrupted, (trial, out)
    # the saves are in the sweep's folder (relative to the sweep file), not the run folder
    saves = list((tmp_path / "shared" / "resume" / str(trial.id)).rglob("counter.json"))
    assert saves, out
    assert not list((tmp_path / "runs").rglob("counter.json"))
    again = subprocess.run(
        [sys.executable, "-m", "tunehooks", "launch", "sweep.yaml", "--storage", url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "OMP_NUM_THREADS": "1"},
    )
    (trial,) = th.Experiment.load("resume", storage=url).get_trials()
    assert trial.state is th.TrialState.COMPLETED, (trial, again.stdout, again.stderr)
    assert trial.values["y"] == sum(range(1, 9))  # it continued from the shared checkpoint


def test_a_trial_killed_by_9_while_its_launcher_runs_resumes_from_its_checkpoint(
    tmp_path: Path,
) -> None:
    url = _setup(tmp_path)
    (tmp_path / "train.py").write_text(textwrap.dedent(PLAIN))
    sweep = {**SWEEP, "metric": {"name": "y", "goal": "maximize"}}
    (tmp_path / "sweep.yaml").write_text(json.dumps(sweep))
    launcher = _launch(tmp_path, url)
    _wait_for_reports(url, 3, launcher)
    (process_file,) = (tmp_path / "runs").rglob("process.json")
    os.kill(json.loads(process_file.read_text())["pid"], signal.SIGKILL)  # the OOM killer
    out, _ = launcher.communicate(timeout=180)
    assert launcher.returncode == 0, out
    assert "resumes from its checkpoint" in out, out
    (trial,) = th.Experiment.load("resume", storage=url).get_trials()
    assert trial.state is th.TrialState.COMPLETED, (trial, out)
    assert [r.step for r in trial.reports] == list(range(1, 9))
    assert trial.values["y"] == sum(range(1, 9))  # the counter continued from its checkpoint
    log = next((tmp_path / "runs").rglob("epochs.log")).read_text().split()
    assert log.count("run") == 2, log
