"""Lightning trials checkpoint through the Trainer and resume with its checkpoint: a
trial paused at epoch 3 and promoted to 9 trains 9 epochs in all and ends with the
weights of an unbroken 9-epoch run (bit for bit); SIGTERM pauses it to resume."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from _lightning_digits import DigitsModule, loaders, trainer
from _resumable import Never, PauseThenPromote

import tunehooks as th
from tunehooks.integrations.lightning import TuneCallback
from tunehooks.trial import TrialState


@pytest.fixture(autouse=True)
def _checkpoint_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEHOOKS_CHECKPOINT_DIR", str(tmp_path / "ckpt"))


def _exp(storage_url: str, name: str, scheduler) -> th.Experiment:
    return th.Experiment.create(
        name,
        th.SearchSpace({"lr": th.Float(0.005, 0.01)}),
        metrics=[th.Metric("val_acc", goal="maximize")],
        budget=th.Budget(trials=1),
        fidelity=th.Fidelity(min=1, max=9),
        storage=storage_url,
        method="random",
        seed=0,
        scheduler=scheduler,
    )


class Counting(DigitsModule):
    def __init__(self, lr: float, seen: list[int]) -> None:
        super().__init__(lr)
        self.seen = seen

    def on_train_epoch_start(self) -> None:
        self.seen.append(self.current_epoch + 1)


def _fit(exp: th.Experiment, digits, seen: list[int]) -> tuple[Counting, TuneCallback]:
    pl.seed_everything(0, verbose=False)
    cb = TuneCallback(exp, monitor="val_acc")
    model = Counting(0.01, seen)
    train, val = loaders(digits)
    trainer(cb, max_epochs=round(cb.trial.fidelity)).fit(model, train, val)
    return model, cb


def test_paused_at_3_and_promoted_to_9_matches_an_unbroken_run(storage_url, digits) -> None:
    exp = _exp(storage_url, "paused", PauseThenPromote(rung=3, top=9))
    seen: list[int] = []
    _, first = _fit(exp, digits, seen)
    assert first.trial.state is TrialState.PAUSED and seen == [1, 2, 3]
    resumed, second = _fit(exp, digits, seen)
    assert second.trial.id == first.trial.id and second.trial.is_resumed
    assert seen == list(range(1, 10))  # 9 epochs in all
    rec = exp.get_trials()[0]
    assert rec.state is TrialState.COMPLETED
    assert [r.step for r in rec.reports] == list(range(1, 10))

    straight, _ = _fit(_exp(storage_url, "whole", Never()), digits, [])
    for a, b in zip(resumed.state_dict().values(), straight.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # bit for bit


def test_sigterm_pauses_the_trial_and_the_next_fit_resumes_it(storage_url, digits) -> None:
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    class Sigterm(pl.Callback):  # what Lightning raises when the process gets SIGTERM
        def on_train_epoch_start(self, trainer, pl_module) -> None:
            if trainer.current_epoch == 5:
                raise SIGTERMException

    exp = _exp(storage_url, "sigterm", Never())
    seen: list[int] = []
    pl.seed_everything(0, verbose=False)
    cb = TuneCallback(exp, monitor="val_acc")
    train, val = loaders(digits)
    t = trainer(cb, max_epochs=9)
    t.callbacks.append(Sigterm())
    with pytest.raises(SIGTERMException):
        t.fit(Counting(0.01, seen), train, val)
    rec = exp.get_trials()[0]
    assert rec.state is TrialState.PAUSED and rec.interrupted and rec.last_step == 5
    _, again = _fit(exp, digits, seen)
    assert again.trial.id == rec.id and seen == list(range(1, 10))  # from the checkpoint at 5
    assert [r.step for r in exp.get_trials()[0].reports] == list(range(1, 10))
    assert exp.get_trials()[0].state is TrialState.COMPLETED
