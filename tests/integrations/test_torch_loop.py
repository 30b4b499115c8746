"""The plain-loop helpers around a real PyTorch MLP on digits."""

from __future__ import annotations

import pytest
import torch

from tunehooks.integrations.torch import MissingMetricError, report_epoch, tune_loop
from tunehooks.trial import Decision, TrialState


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def _epoch(model, opt, data, *, nan: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    x_tr, y_tr, x_va, y_va = (torch.from_numpy(a) for a in data)
    if nan:
        with torch.no_grad():
            model[0].weight.fill_(float("nan"))
    for i in range(0, len(x_tr), 64):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x_tr[i : i + 64]), y_tr[i : i + 64])
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = (model(x_va).argmax(1) == y_va).float().mean()
    return loss.detach(), acc


def test_tune_loop_trains_until_the_scheduler_stops(make_exp, digits) -> None:
    exp = make_exp(stop_at=3)
    with tune_loop(exp, monitor="val_acc") as loop:
        model = _model()
        opt = torch.optim.Adam(model.parameters(), lr=loop.trial.params["lr"])
        trained = []
        for epoch in loop.epochs(max_epochs=6):
            loss, acc = _epoch(model, opt, digits)
            loop.report(epoch, {"val_acc": acc, "train_loss": loss})  # tensors are fine
            trained.append(epoch)
    assert trained == [1, 2, 3]
    rec = loop.trial.refresh()
    assert rec.state is TrialState.PRUNED
    assert [r.step for r in rec.reports] == [1, 2, 3]
    assert rec.reports[-1].metrics["val_acc"] > 0.5


def test_tune_loop_completes_and_report_epoch_returns_the_decision(make_exp, digits) -> None:
    exp = make_exp(trials=2)
    with tune_loop(exp) as loop:
        model = _model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in loop.epochs(max_epochs=2):
            loss, acc = _epoch(model, opt, digits)
            loop.report(epoch, {"val_acc": acc, "train_loss": loss})
    assert loop.trial.refresh().state is TrialState.COMPLETED
    assert loop.trial.record.values["val_acc"] == pytest.approx(float(acc))

    trial = exp.ask()
    assert report_epoch(trial, 1, {"val_acc": torch.tensor(0.5)}) is Decision.CONTINUE
    with pytest.raises(MissingMetricError, match="they are: 'acc'"):
        report_epoch(trial, 2, {"acc": 0.5}, monitor="val_acc")
    assert trial.refresh().state is TrialState.FAILED


def test_nan_loss_fails_the_trial_and_the_next_trial_runs(make_exp, digits) -> None:
    exp = make_exp(trials=2)
    trained = []
    for trial in exp.ask_loop():
        with tune_loop(trial, monitor="val_acc") as loop:
            model = _model()
            opt = torch.optim.Adam(model.parameters(), lr=trial.params["lr"])
            for epoch in loop.epochs(max_epochs=3):
                loss, acc = _epoch(model, opt, digits, nan=trial.number == 0 and epoch == 2)
                loop.report(epoch, {"val_acc": acc, "train_loss": loss})
                trained.append((trial.number, epoch))
    first, second = exp.get_trials()
    assert first.state is TrialState.FAILED
    assert first.error is not None and "'train_loss' is nan at step 2" in first.error
    assert second.state is TrialState.COMPLETED
    assert trained == [(0, 1), (0, 2), (1, 1), (1, 2), (1, 3)]
