"""A tiny Keras 3 MLP on digits (any backend), shared by the tests and the torch-backend script."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


def build(lr: float, *, nan: bool = False) -> Any:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e6 if nan else lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


class PoisonAt(keras.callbacks.Callback):  # type: ignore[misc]
    """Fill the first layer's weights with NaN at the start of ``epoch`` (1-based)."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        if epoch + 1 == self.epoch:
            w = self.model.layers[0].kernel
            w.assign(np.full(tuple(w.shape), np.nan, dtype="float32"))


def fit(model: Any, data: tuple[np.ndarray, ...], callbacks: list[Any], epochs: int) -> Any:
    x_tr, y_tr, x_va, y_va = data
    return model.fit(
        x_tr,
        y_tr,
        validation_data=(x_va, y_va),
        epochs=epochs,
        batch_size=64,
        callbacks=callbacks,
        verbose=0,
    )


class RaiseAt(keras.callbacks.Callback):  # type: ignore[misc]
    """Raise ``RuntimeError("boom at epoch N")`` at the end of ``epoch`` (1-based)."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if epoch + 1 == self.epoch:
            raise RuntimeError(f"boom at epoch {self.epoch}")
