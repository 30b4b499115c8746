"""Run by test_keras.py with KERAS_BACKEND=torch: a scripted stop at epoch 2, then a
``ask_loop()`` loop whose first fit raises in a callback (caught by the loop body).

Prints one JSON line: the backend, the epochs trained, the trial's state and steps, and
the states and errors of the loop's trials.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence

from _keras_digits import RaiseAt, build, fit
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
    loop = th.Experiment.create(
        "keras-torch-loop",
        th.SearchSpace({"lr": th.Float(0.005, 0.02, log=True)}),
        metrics=[th.Metric("val_accuracy", goal="maximize")],
        budget=th.Budget(trials=2),
        storage=sys.argv[1],
        method="random",
    )
    for trial in loop.ask_loop():
        extra = [RaiseAt(2)] if trial.number == 0 else []
        with contextlib.suppress(RuntimeError):
            fit(build(**trial.params), data, [TuneCallback(trial), *extra], epochs=3)
    print(
        json.dumps(
            {
                "backend": keras.backend.backend(),
                "epochs": len(history.history["loss"]),
                "state": rec.state.value,
                "steps": [r.step for r in rec.reports],
                "val_accuracy": rec.values.get("val_accuracy"),
                "loop": [[t.state.value, t.error] for t in loop.get_trials()],
            }
        )
    )


if __name__ == "__main__":
    main()
