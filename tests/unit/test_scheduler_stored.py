"""A custom scheduler passed to Experiment.create is stored with the experiment: a process
that loads the experiment (a launched trial, another worker) decides with it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tunehooks as th

RULE = textwrap.dedent(
    """
    from tunehooks.trial import Decision

    class StopAtStep:
        def __init__(self, step=5):
            self.step = step

        def decide(self, trial, history):
            return Decision.STOP if trial.reports[-1].step >= self.step else Decision.CONTINUE

        def new_trial_fidelity(self, history):
            return None
    """
)

TRIAL = textwrap.dedent(
    """
    import sys
    import tunehooks as th
    exp = th.Experiment.load("stored-rule", storage=sys.argv[1])
    trial = exp.ask()
    for step in range(1, 10):
        if trial.report(step, {"acc": step / 10}) is th.Decision.STOP:
            trial.prune()
            break
    else:
        trial.complete()
    print(type(getattr(exp.scheduler, "inner", exp.scheduler)).__name__, trial.refresh().state.value, trial.record.last_step)
    """
)


def _create(tmp_path: Path, url: str) -> th.Experiment:
    (tmp_path / "my_rules.py").write_text(RULE)
    sys.path.insert(0, str(tmp_path))
    try:
        import my_rules

        return th.Experiment.create(
            "stored-rule",
            th.SearchSpace({"x": th.Float(0.0, 1.0)}),
            metrics=[th.Metric("acc", goal="maximize")],
            budget=th.Budget(trials=3),
            storage=url,
            method="random",
            seed=0,
            scheduler=my_rules.StopAtStep(step=3),
        )
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("my_rules", None)


def test_a_loaded_experiment_decides_with_the_stored_custom_scheduler(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    exp = _create(tmp_path, url)
    assert exp.config["scheduler"] == {"class": "my_rules:StopAtStep", "settings": {"step": 3}}
    out = subprocess.run(
        [sys.executable, "-c", TRIAL, url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)},
        check=True,
    )
    # the trial process stopped at the stored rule's step 3, not at the default (none)
    assert out.stdout.split() == ["StopAtStep", "PRUNED", "3"], out.stderr


def test_a_scheduler_that_cannot_be_rebuilt_is_logged_and_the_default_decides(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _create(tmp_path, url)  # my_rules is not importable any more
    loaded = th.Experiment.load("stored-rule", storage=url)
    with caplog.at_level("WARNING", logger="tunehooks"):
        assert type(loaded.scheduler).__name__ == "NoScheduler"
    assert "my_rules:StopAtStep" in caplog.text and "default rule" in caplog.text


def test_a_continued_experiment_keeps_the_stored_scheduler(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    exp = _create(tmp_path, url)
    again = th.Experiment.create(
        "stored-rule",
        exp.space,
        metrics=exp.metrics,
        budget=th.Budget(trials=5),  # a grown budget rewrites the stored configuration
        storage=url,
        method="random",
        seed=0,
        load_if_exists=True,
    )
    assert again.config["scheduler"] == exp.config["scheduler"]
    assert again.budget.trials == 5


def test_one_of_tunehooks_schedulers_is_rebuilt_with_the_experiment_settings(
    tmp_path: Path,
) -> None:
    from tunehooks.schedulers import ASHAScheduler

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    fid = th.Fidelity(min=1, max=9, eta=3)
    metrics = [th.Metric("acc", goal="maximize")]
    th.Experiment.create(
        "asha-instance",
        th.SearchSpace({"x": th.Float(0.0, 1.0)}),
        metrics=metrics,
        budget=th.Budget(trials=3),
        storage=url,
        method="random",
        seed=4,
        fidelity=fid,
        scheduler=ASHAScheduler(fid, metrics, seed=4),
    )
    loaded = th.Experiment.load("asha-instance", storage=url).scheduler
    assert isinstance(loaded, ASHAScheduler) and loaded.seed == 4
    assert loaded.levels == ASHAScheduler(fid, metrics, seed=4).levels
