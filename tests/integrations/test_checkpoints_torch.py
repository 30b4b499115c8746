"""Plain PyTorch loops checkpoint through ``tune_loop(state=...)``: a trial paused at
epoch 3 and promoted to 9 trains 9 epochs in all and ends with the same weights, bit
for bit, as one trained 9 epochs at once; an interruption pauses it to resume."""

from __future__ import annotations

import pytest
import torch
from _resumable import Never, PauseThenPromote

import tunehooks as th
from tunehooks.integrations.torch import TorchState, tune_loop
from tunehooks.trial import TrialState


@pytest.fixture(autouse=True)
def _checkpoint_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEHOOKS_CHECKPOINT_DIR", str(tmp_path / "ckpt"))
    return tmp_path / "ckpt"


def _exp(storage_url: str, name: str, scheduler) -> th.Experiment:
    # new trials get the maximum; a paused one is promoted to 9 (see PauseThenPromote)
    top = 10 if isinstance(scheduler, PauseThenPromote) else 9
    return th.Experiment.create(
        name,
        th.SearchSpace({"lr": th.Float(0.05, 0.1)}),
        metrics=[th.Metric("val_acc", goal="maximize")],
        budget=th.Budget(trials=1),
        fidelity=th.Fidelity(min=1, max=top),
        storage=storage_url,
        method="random",
        seed=0,
        scheduler=scheduler,
    )


def _run(exp: th.Experiment, digits, epochs_seen: list[int], *, stop_after: int | None = None):
    """One process's run of the experiment's next trial; the model it ends with."""
    torch.manual_seed(0)
    x_tr, y_tr, x_va, y_va = (torch.from_numpy(a) for a in digits)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 32), torch.nn.Dropout(0.2), torch.nn.ReLU(), torch.nn.Linear(32, 10)
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.7)
    state = {"model": model, "optimizer": opt, "scheduler": sched}
    with tune_loop(exp, monitor="val_acc", state=state) as loop:
        for epoch in loop.epochs(max_epochs=9):
            model.train()
            order = torch.randperm(len(x_tr))  # the global RNG: restored with the checkpoint
            for i in range(0, len(x_tr), 64):
                idx = order[i : i + 64]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx]).backward()
                opt.step()
            sched.step()
            epochs_seen.append(epoch)
            model.eval()
            with torch.no_grad():
                acc = (model(x_va).argmax(1) == y_va).float().mean()
            loop.report(epoch, {"val_acc": acc})
            if stop_after is not None and epoch == stop_after:
                raise KeyboardInterrupt  # Ctrl-C
    return model, loop


def test_paused_at_3_and_promoted_to_9_matches_an_uninterrupted_run(storage_url, digits) -> None:
    exp = _exp(storage_url, "paused", PauseThenPromote(rung=3, top=9))
    seen: list[int] = []
    _, first = _run(exp, digits, seen)
    assert first.trial.state is TrialState.PAUSED and seen == [1, 2, 3]
    assert first.trial.checkpoint_dir is not None and first.trial.checkpoint_dir.is_dir()
    resumed, second = _run(exp, digits, seen)
    assert second.trial.id == first.trial.id and second.trial.is_resumed
    assert second.restored_step == 3 and second.trial.resume_step == 3
    assert seen == list(range(1, 10))  # 9 epochs in all
    rec = second.trial.record
    assert rec.state is TrialState.COMPLETED
    assert [r.step for r in exp.trial_handle(rec.id).record.reports] == list(range(1, 10))

    whole = _exp(storage_url, "whole", Never())
    straight, _ = _run(whole, digits, [])
    for a, b in zip(resumed.state_dict().values(), straight.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # bit for bit


def test_ctrl_c_pauses_the_trial_and_the_next_ask_resumes_it(storage_url, digits) -> None:
    exp = _exp(storage_url, "interrupted", Never())
    seen: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        _run(exp, digits, seen, stop_after=4)
    rec = exp.get_trials()[0]
    assert rec.state is TrialState.PAUSED and rec.interrupted, rec
    _, loop = _run(exp, digits, seen)
    assert loop.restored_step == 4 and seen == list(range(1, 10))
    assert loop.trial.state is TrialState.COMPLETED
    assert len(exp.get_trials()) == 1  # resumed, not a new attempt


def test_a_corrupt_checkpoint_starts_afresh_with_a_warning(storage_url, digits) -> None:
    exp = _exp(storage_url, "corrupt", PauseThenPromote(rung=3, top=5))
    seen: list[int] = []
    _, first = _run(exp, digits, seen)
    folder = first.trial.checkpoint_dir
    for f in folder.rglob("state.pt"):
        f.write_bytes(b"not a checkpoint")
    with pytest.warns(RuntimeWarning, match="cannot be read.*from the start"):
        _, loop = _run(exp, digits, seen)
    assert loop.restored_step == 0 and seen == [1, 2, 3, 1, 2, 3, 4, 5]
    assert loop.trial.state is TrialState.COMPLETED
    assert [r.step for r in exp.get_trials()[0].reports] == [1, 2, 3, 4, 5]


def test_finished_trials_keep_the_best_checkpoint_only(storage_url, digits, monkeypatch) -> None:
    exp = th.Experiment.create(
        "keep",
        th.SearchSpace({"lr": th.Float(0.05, 0.1)}),
        metrics=[th.Metric("val_acc", goal="maximize")],
        budget=th.Budget(trials=3),
        storage=storage_url,
        method="random",
        seed=0,
    )
    for _ in range(3):
        _run(exp, digits, [])
    trials = exp.get_trials()
    kept = [t for t in trials if t.id and exp.trial_handle(t.id).checkpoint_dir.is_dir()]
    assert [t.id for t in kept] == [exp.best.id]


def test_state_without_state_dict_is_refused() -> None:
    with pytest.raises(TypeError, match=r"state\['x'\]: int has no state_dict"):
        TorchState({"x": 3})
