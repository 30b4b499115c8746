"""Run by test_fabric.py: a Fabric loop on digits, 2 CPU processes (gloo), launched by
``fabric.launch()`` before the experiment exists; $STOP_AT stops every trial at that epoch.
Each rank writes $OUT_DIR/rank<N>.json: [trial id, lr, epochs trained] per trial."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from _lightning_digits import load_digits_split
from lightning.fabric import Fabric

import tunehooks as th
from tunehooks.integrations.fabric import fabric_loop


class StopAt:
    needs_history = True

    def decide(self, trial: th.TrialRecord, history: Sequence[th.TrialRecord]) -> th.Decision:
        stop = trial.reports[-1].step >= int(os.environ["STOP_AT"])
        return th.Decision.STOP if stop else th.Decision.CONTINUE

    def new_trial_fidelity(self, history: Sequence[th.TrialRecord]) -> float | None:
        return None


def main() -> None:
    torch.set_num_threads(1)
    fabric = Fabric(accelerator="cpu", devices=2, strategy="ddp")
    fabric.launch()
    exp = th.Experiment.create(
        "fabric-loop",
        th.SearchSpace({"lr": th.Float(0.001, 0.05, log=True)}),
        metrics=[th.Metric("val_acc", goal="maximize")],
        budget=th.Budget(trials=2),
        storage=os.environ["STORAGE_URL"],
        method="random",
        scheduler=StopAt(),
    )
    x_tr, y_tr, x_va, y_va = (torch.from_numpy(a) for a in load_digits_split(128, 64))
    seen = []
    for trial in exp.ask_loop():
        model = torch.nn.Sequential(
            torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
        )
        model, opt = fabric.setup(
            model, torch.optim.Adam(model.parameters(), lr=trial.params["lr"])
        )
        epochs = 0
        with fabric_loop(fabric, trial, monitor="val_acc") as loop:
            for epoch in loop.epochs(max_epochs=4):
                loss = torch.nn.functional.cross_entropy(model(x_tr), y_tr)
                opt.zero_grad()
                fabric.backward(loss)
                opt.step()
                with torch.no_grad():
                    acc = (model(x_va).argmax(1) == y_va).float().mean()
                acc = fabric.all_reduce(acc, reduce_op="mean")
                loop.report(epoch, {"val_acc": acc, "train_loss": loss})
                epochs = epoch
        seen.append([trial.id, trial.params["lr"], epochs])
    Path(os.environ["OUT_DIR"], f"rank{fabric.global_rank}.json").write_text(json.dumps(seen))
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    # Freeing a DDP-wrapped model after that can hang in C++ on gloo (seen with the
    # transformers script, torch 2.13); every result is stored: leave.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
