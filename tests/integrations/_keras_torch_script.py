"""Run by test_keras.py with KERAS_BACKEND=torch: a scripted stop at epoch 2.

Prints one JSON line: the backend, the epochs trained, and the trial's state and steps.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from _keras_digits import build, fit
from sklearn.datasets import load_digits

import tunehooks as th
from tunehooks.integrations.keras import TuneCallback


class StopAt:
    needs_history = True

    def decide(self, trial: th.TrialRecord, history: Sequence[th.TrialRecord]) -> th.Decision:
        return th.Decision.STOP if trial.reports[-1].step >= 2 else th.Decision.CONTINUE

    def new_trial_fidelity(self, history: Sequence[th.TrialRecord]) -> float | None:
        return None


def main() -> None:
    import keras

    x, y = load_digits(return_X_y=True)
    x = ((x - x.mean(0)) / (x.std(0) + 1e-6)).astype("float32")
    data = (x[:512], y[:512], x[512:768], y[512:768])
    exp = th.Experiment.create(
        "keras-torch",
        th.SearchSpace({"lr": th.Float(0.005, 0.02, log=True)}),
        metrics=[th.Metric("val_accuracy", goal="maximize")],
        budget=th.Budget(trials=1),
        storage=sys.argv[1],
        method="random",
        scheduler=StopAt(),
    )
    cb = TuneCallback(exp, monitor="val_accuracy")
    history = fit(build(**cb.trial.params), data, [cb], epochs=5)
    rec = cb.trial.refresh()
    print(
        json.dumps(
            {
                "backend": keras.backend.backend(),
                "epochs": len(history.history["loss"]),
                "state": rec.state.value,
                "steps": [r.step for r in rec.reports],
                "val_accuracy": rec.values.get("val_accuracy"),
            }
        )
    )


if __name__ == "__main__":
    main()
