"""Run by test_transformers.py under torchrun (2 CPU processes, gloo): the README's loop
with ``Trainer``; a scripted scheduler stops every trial at optimizer step 8. Each rank
writes $OUT_DIR/rank<N>.json: [trial id, lr, global step] per trial."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from _hf_digits import digit_rows, trainer

import tunehooks as th
from tunehooks.integrations.transformers import TuneCallback


class StopAt:
    needs_history = True

    def decide(self, trial: th.TrialRecord, history: Sequence[th.TrialRecord]) -> th.Decision:
        return th.Decision.STOP if trial.reports[-1].step >= 8 else th.Decision.CONTINUE

    def new_trial_fidelity(self, history: Sequence[th.TrialRecord]) -> float | None:
        return None


def main() -> None:
    torch.set_num_threads(1)
    exp = th.Experiment.create(
        "hf-loop",
        th.SearchSpace({"lr": th.Float(1e-3, 3e-3, log=True)}),
        metrics=[th.Metric("eval_accuracy", goal="maximize")],
        budget=th.Budget(trials=2),
        storage=os.environ["STORAGE_URL"],
        method="random",
        scheduler=StopAt(),
    )
    rows, seen = digit_rows(), []
    for trial in exp.ask_loop():
        cb = TuneCallback(trial, monitor="eval_accuracy")
        t = trainer(
            cb, rows, Path(os.environ["OUT_DIR"]), lr=trial.params["lr"], ddp_backend="gloo"
        )
        t.train()
        seen.append([trial.id, trial.params["lr"], t.state.global_step])
    rank = int(os.environ["RANK"])
    Path(os.environ["OUT_DIR"], f"rank{rank}.json").write_text(json.dumps(seen))
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    # Freeing the Trainer's DDP-wrapped model after that can hang in C++ on gloo (seen with
    # torch 2.13 + transformers 5.24, about one run in two); every result is stored: leave.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
