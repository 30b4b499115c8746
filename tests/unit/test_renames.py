"""Renamed public names: the new ones work silently; the old ones keep working and warn
DeprecationWarning once; ``Fidelity(min=, max=)`` and the sweep file's ``min:``/``max:`` are
not deprecated (an external checker calls exactly that signature)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import tunehooks as th
from tunehooks import _deprecation

SPACE = th.SearchSpace({"x": th.Float(0.0, 1.0)})
METRICS = [th.Metric("y", goal="minimize")]


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_deprecation, "_warned", set())  # "once" is per process
    yield


def _experiment(name: str) -> th.Experiment:
    return th.Experiment.create(
        name, SPACE, metrics=METRICS, budget=th.Budget(trials=2), storage="memory://", seed=0
    )


def _deprecations(seen: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in seen if issubclass(w.category, DeprecationWarning)]


def test_the_new_names_do_not_warn() -> None:
    exp = _experiment("renames-new")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ids = [t.complete({"y": t.params["x"]}).id for t in exp.ask_loop()]
        handle = exp.trial_handle(ids[0])
        f = th.Fidelity(min=1, max=30, eta=3)
        bounds = (f.min_resource, f.max_resource, f.levels())
    assert handle.id == ids[0] and len(exp.get_trials()) == 2
    assert bounds == (1.0, 30.0, [1.0, 3.0, 9.0, 27.0])
    assert _deprecations(seen) == []


def test_the_old_names_work_and_warn_once_each() -> None:
    exp = _experiment("renames-old")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ids = [t.complete({"y": t.params["x"]}).id for t in exp.trials()]
        assert len(ids) == 2 and list(exp.trials()) == []
        assert exp.trial(ids[0]).id == ids[0] and exp.trial(ids[1]).id == ids[1]
        f = th.Fidelity(min=2, max=27)
        assert (f.min, f.max, f.min, f.max) == (2.0, 27.0, 2.0, 27.0)
    assert _deprecations(seen) == [
        "Experiment.trials() is deprecated: use Experiment.ask_loop() (same behaviour)",
        "Experiment.trial(id) is deprecated: use Experiment.trial_handle(id) (same behaviour)",
        "Fidelity.min is deprecated: use Fidelity.min_resource (same behaviour)",
        "Fidelity.max is deprecated: use Fidelity.max_resource (same behaviour)",
    ]
    assert all(w.filename == __file__ for w in seen)  # they point at the caller


def test_fidelity_keywords_and_stored_keys_are_unchanged(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        f = th.Fidelity(min=1, max=30, eta=3)
        assert f.to_dict()["min"] == 1.0 and f.to_dict()["max"] == 30.0
        assert th.Fidelity.from_dict(f.to_dict()) == f
    assert _deprecations(seen) == []


def test_a_sweep_files_min_and_max_do_not_warn(tmp_path: Path) -> None:
    from tunehooks.launch.sweep import load_sweep

    (tmp_path / "train.py").write_text("print('ok')\n")
    (tmp_path / "sweep.yaml").write_text(
        "name: renames\n"
        "program: train.py\n"
        "metric: {name: acc, goal: maximize}\n"
        "budget: {trials: 4}\n"
        "fidelity: {min: 1, max: 27, eta: 3}\n"
        "parameters:\n"
        "  lr: {min: 0.001, max: 0.1}\n"
    )
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        sweep = load_sweep(tmp_path / "sweep.yaml")
    assert sweep.fidelity is not None
    assert (sweep.fidelity.min_resource, sweep.fidelity.max_resource) == (1.0, 27.0)
    assert _deprecations(seen) == []


@pytest.mark.parametrize(
    ("method", "scheduler"),
    [("random", kind.value) for kind in th.SchedulerKind] + [("bayes", "hedged")],
)
def test_tunehooks_own_schedulers_never_warn_a_user_about_the_old_names(
    method: str, scheduler: str
) -> None:
    exp = th.Experiment.create(
        f"renames-{method}-{scheduler}",
        SPACE,
        metrics=[th.Metric("acc", goal="maximize")],
        budget=th.Budget(trials=4),
        storage="memory://",
        method=method,
        seed=0,
        fidelity=th.Fidelity(min=1, max=9, eta=3, scheduler=scheduler),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # as a user's CI may run
        for trial in exp.ask_loop():
            for step in range(1, 10):
                if (
                    trial.report(step, {"acc": trial.params["x"] * step})
                    is not th.Decision.CONTINUE
                ):
                    break
    assert len(exp.get_trials()) >= 4


ROOT = Path(__file__).resolve().parents[2]

# every deprecated alias, used as a user would (one line each: mypy names the line)
PROBE = """
    import tunehooks as th
    f = th.Fidelity(min=1, max=9)
    exp = th.Experiment.create("probe", th.SearchSpace({"x": th.Float(0.0, 1.0)}),
                               metrics=[th.Metric("y", goal="minimize")], storage="memory://")
    low = f.min
    high = f.max
    loop = exp.trials()
    handle = exp.trial(0)
"""


@pytest.mark.slow  # mypy over the package: 5 s with its cache, 90 s without
def test_tunehooks_own_code_uses_none_of_the_old_names(tmp_path: Path) -> None:
    """mypy's ``deprecated`` check (the aliases carry ``@deprecated``) over src/tunehooks
    and a probe that uses each alias once: it flags the probe's four uses, so it would
    flag one in tunehooks, and finds none there."""
    probe = tmp_path / "probe.py"
    probe.write_text(textwrap.dedent(PROBE))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--enable-error-code",
            "deprecated",
            "--cache-dir",
            str(ROOT / ".mypy_cache" / "deprecated-check"),
            str(ROOT / "src" / "tunehooks"),
            str(probe),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    flagged = re.findall(
        r"^(.+?):(\d+): error: .* is deprecated: .*\[deprecated\]$", run.stdout, re.M
    )
    in_probe = sorted(int(line) for path, line in flagged if Path(path).name == "probe.py")
    elsewhere = [f"{path}:{line}" for path, line in flagged if Path(path).name != "probe.py"]
    lines = textwrap.dedent(PROBE).splitlines()
    expected = [
        i + 1 for i, text in enumerate(lines) if re.search(r"\.(min|max|trials|trial)\b", text)
    ]
    assert in_probe == expected, run.stdout + run.stderr
    assert elsewhere == [], run.stdout
