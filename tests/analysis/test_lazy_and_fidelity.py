from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

import tunehooks as th
from tunehooks import analysis as an


def test_importing_analysis_loads_no_plotting_or_learning_library() -> None:
    code = (
        "import sys, tunehooks.analysis, tunehooks.analysis.html, tunehooks.analysis.compare, "
        "tunehooks.cli\n"
        "print(sorted(m for m in ('matplotlib', 'sklearn', 'pandas', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_importance_and_trace_with_trials_at_several_fidelities(
    storage_url: str, space: th.SearchSpace
) -> None:
    """Low-fidelity results feed the importance (fidelity is a column of the forest) but
    never the best-so-far."""
    exp = th.Experiment.create(
        "mf",
        space,
        metrics=[th.Metric("loss", goal="minimize")],
        budget=th.Budget(trials=36),
        storage=storage_url,
        method="sobol",
        fidelity=th.Fidelity(max=9, min=1, scheduler="none"),
    )
    for i in range(36):
        fid = [1, 3, 9][i % 3]
        params = exp.space.sample(1, rng=np.random.default_rng(i))[0]
        exp.enqueue(params, fidelity=fid)
    for t in exp.ask_loop():
        lr = t.params["lr"]
        # lower fidelity: a worse loss, the same shape in lr
        for step in range(1, int(t.fidelity or 9) + 1):
            t.report(step, {"loss": (math.log10(lr) + 2) ** 2 + 1.0 / step})
        t.complete()
    imps = an.parameter_importance(exp)
    assert imps[0].name == "lr" and "(fidelity)" not in [i.name for i in imps]
    trace = an.best_so_far(exp)
    full = [t for t in exp.get_trials() if t.fidelity == 9]
    assert trace.final_best == pytest.approx(min(t.values["loss"] for t in full))
    assert sum(trace.eligible) == len(full) == 12
    epochs = an.best_so_far(exp, axis="epochs")
    assert epochs.x[-1] == 12 * (1 + 3 + 9)
    assert an.cost_table(exp).full_trainings == pytest.approx(12 * (1 + 3 + 9) / 9)
