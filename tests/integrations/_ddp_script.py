"""Run by test_lightning.py: one DDP fit on 2 CPU processes (gloo), as a launcher would.

Lightning starts rank 1 by running this file again. Every rank reads its trial from
the environment and writes what it saw to $OUT_DIR/rank<N>.json.
MODE=launcher: TUNEHOOKS_TRIAL_ID is set; a scripted scheduler stops at $STOP_AT.
MODE=nan: no trial id (the callback hands rank 0's trial to rank 1); NaN at epoch 2.
MODE=resume: TUNEHOOKS_TRIAL_ID is set; a pausing scheduler pauses new trials at epoch 3
and the trial trains to its fidelity (checkpoints in $TUNEHOOKS_CHECKPOINT_DIR).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from _lightning_digits import DigitsModule, load_digits_split, loaders, trainer

import tunehooks as th
from tunehooks.integrations.lightning import TuneCallback


class StopAt:
    needs_history = True

    def __init__(self, step: int) -> None:
        self.step = step

    def decide(self, trial: th.TrialRecord, history: Sequence[th.TrialRecord]) -> th.Decision:
        return th.Decision.STOP if trial.reports[-1].step >= self.step else th.Decision.CONTINUE

    def new_trial_fidelity(self, history: Sequence[th.TrialRecord]) -> float | None:
        return None


def main() -> None:
    torch.set_num_threads(1)
    max_epochs = 5
    if os.environ["MODE"] == "resume":
        from _resumable import PauseThenPromote

        exp = th.Experiment.load(os.environ["TUNEHOOKS_EXPERIMENT"], scheduler=PauseThenPromote())
        callback = TuneCallback(
            exp.trial_handle(int(os.environ["TUNEHOOKS_TRIAL_ID"])), monitor="val_acc"
        )
        model = DigitsModule(**callback.trial.params, log_rank=True)
        max_epochs = round(callback.trial.fidelity or 9)
    elif os.environ["MODE"] == "launcher":
        exp = th.Experiment.load(
            os.environ["TUNEHOOKS_EXPERIMENT"], scheduler=StopAt(int(os.environ["STOP_AT"]))
        )
        callback = TuneCallback(
            exp.trial_handle(int(os.environ["TUNEHOOKS_TRIAL_ID"])), monitor="val_acc"
        )
        model = DigitsModule(**callback.trial.params, log_rank=True)
    else:
        params = th.current_trial().params
        callback = TuneCallback(monitor="val_acc")
        model = DigitsModule(**params, log_rank=True, nan_at=2)
    t = trainer(callback, max_epochs=max_epochs, devices=2, strategy="ddp", num_sanity_val_steps=0)
    t.fit(model, *loaders(load_digits_split(n_train=256, n_val=128), batch_size=32))
    out = {
        "trial_id": callback.trial.id,
        "params": callback.trial.params,
        "epochs": t.current_epoch,
        "writer": callback.is_writer,
        "restored": callback._restored,
        "weight_sum": float(sum(p.double().sum() for p in model.parameters())),
    }
    Path(os.environ["OUT_DIR"], f"rank{t.global_rank}.json").write_text(json.dumps(out))
    # Lightning leaves the gloo process group alive; torch can then abort at exit
    # ("terminate called without an active exception"), so end it as torch advises.
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
