"""Run by test_lightning_ddp.py: the README's Python loop under 2-process gloo DDP.

``for trial in exp.ask_loop(): Trainer(strategy=..., devices=2).fit(...)``, started the way
$START says: ``lightning`` (``python this.py``; Lightning starts rank 1 inside fit),
``torchrun`` (both ranks started by torchrun) or ``launcher`` (TUNEHOOKS_TRIAL_ID set, as
``tunehooks launch`` does). $STRATEGY is ``ddp`` or ``ddp_spawn``; $FAIL=rank1 makes only
rank 1 miss the monitored metric (logged with rank_zero_only=True). Every process that
trains writes $OUT_DIR/rank<N>.json: the trial ids and learning rates it trained.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from _lightning_digits import DigitsModule, load_digits_split, loaders, trainer

import tunehooks as th
from tunehooks.integrations.lightning import TuneCallback


def main() -> None:
    torch.set_num_threads(1)
    exp = th.Experiment.create(  # no load_if_exists: rank 1 must not create it again
        os.environ["EXP_NAME"],
        th.SearchSpace({"lr": th.Float(0.001, 0.05, log=True)}),
        metrics=[th.Metric("val_acc", goal="maximize")],
        budget=th.Budget(trials=int(os.environ.get("TRIALS", "2"))),
        storage=os.environ["STORAGE_URL"],
        method="random",
        seed=int(os.environ.get("SEED", "0")),
        load_if_exists=os.environ["START"] == "launcher",
    )
    data = loaders(load_digits_split(n_train=128, n_val=64), batch_size=32)
    seen: list[list[float]] = []
    rank = None
    for trial in exp.ask_loop():
        t = trainer(
            TuneCallback(trial, monitor="val_acc"),
            max_epochs=2,
            devices=2,
            strategy=os.environ["STRATEGY"],
            num_sanity_val_steps=0,
        )
        model = DigitsModule(**trial.params, val_rank_zero_only=os.environ.get("FAIL") == "rank1")
        t.fit(model, *data)
        rank = t.global_rank
        seen.append([trial.id, trial.params["lr"]])
    if rank is not None:
        Path(os.environ["OUT_DIR"], f"rank{rank}.json").write_text(json.dumps(seen))
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
