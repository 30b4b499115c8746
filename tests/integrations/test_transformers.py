"""transformers.Trainer's TuneCallback on a tiny BERT built from a config (random init, no
download): the digits' 64 pixel values (0-16) are the tokens; decisions are scripted."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import torch
from sklearn.datasets import load_digits
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

from tunehooks.integrations._common import MissingMetricError
from tunehooks.integrations.transformers import TuneCallback
from tunehooks.trial import TrialState

pytestmark = pytest.mark.slow


class Rows(torch.utils.data.Dataset):
    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = torch.as_tensor(x, dtype=torch.long), torch.as_tensor(y)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.x[i], "labels": self.y[i]}


@pytest.fixture(scope="module")
def rows() -> tuple[Rows, Rows]:
    x, y = load_digits(return_X_y=True)
    return Rows(x[:256], y[:256]), Rows(x[256:384], y[256:384])


def _accuracy(pred) -> dict[str, float]:
    return {"accuracy": float((pred.predictions.argmax(-1) == pred.label_ids).mean())}


def _trainer(callback, rows, tmp_path, *, lr: float, steps: int = 16, bad_labels: bool = False):
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=17,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=10,
    )
    train, val = rows
    if bad_labels:  # a label the model has no class for: its forward raises
        train = Rows(train.x.numpy(), np.full(len(train), 12))
    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=steps,
        eval_strategy="steps",
        eval_steps=4,
        per_device_train_batch_size=32,
        per_device_eval_batch_size=128,
        learning_rate=lr,
        save_strategy="no",
        logging_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
        seed=0,
    )
    return Trainer(
        model=BertForSequenceClassification(config),
        args=args,
        train_dataset=train,
        eval_dataset=val,
        compute_metrics=_accuracy,
        callbacks=[callback],
    )


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
    for trial in exp.trials():
        with contextlib.suppress(IndexError):
            cb = TuneCallback(trial, monitor="eval_accuracy")
            t = _trainer(cb, rows, tmp_path, lr=trial.params["lr"], bad_labels=trial.number == 0)
            t.train()
    first, second = exp.get_trials()
    assert first.state is TrialState.FAILED and (first.error or "").startswith("IndexError")
    assert second.state is TrialState.COMPLETED
