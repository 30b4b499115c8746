"""A tiny BERT built from a config (random init, no download) over the digits' 64 pixel
values (0-16) as tokens; shared by test_transformers.py and its DDP script."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments


class Rows(torch.utils.data.Dataset):
    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = torch.as_tensor(x, dtype=torch.long), torch.as_tensor(y)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.x[i], "labels": self.y[i]}


def digit_rows() -> tuple[Rows, Rows]:
    x, y = load_digits(return_X_y=True)
    return Rows(x[:256], y[:256]), Rows(x[256:384], y[256:384])


def accuracy(pred) -> dict[str, float]:
    return {"accuracy": float((pred.predictions.argmax(-1) == pred.label_ids).mean())}


def trainer(
    callback, rows, tmp_path, *, lr: float, steps: int = 16, bad_labels: bool = False, **extra
):
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
        **extra,
    )
    return Trainer(
        model=BertForSequenceClassification(config),
        args=args,
        train_dataset=train,
        eval_dataset=val,
        compute_metrics=accuracy,
        callbacks=[callback],
    )
