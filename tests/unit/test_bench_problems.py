"""The black-box benchmark's problems are well defined: optima where claimed, bounds, determinism."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "blackbox"))

from problems import HARTMANN6_ARGMIN, MIXED_ARGMIN, PROBLEMS

SYNTHETIC = [p for p in PROBLEMS.values() if p.kind == "synthetic" and p.optimum is not None]
SKLEARN = [p for p in PROBLEMS.values() if p.kind == "sklearn"]


def _x(*values: float) -> dict[str, float]:
    return {f"x{i}": v for i, v in enumerate(values, start=1)}


KNOWN_ARGMIN = {
    "branin": [_x(-math.pi, 12.275), _x(math.pi, 2.275), _x(9.42478, 2.475)],
    "hartmann6": [_x(*HARTMANN6_ARGMIN)],
    "ackley5": [_x(*[0.0] * 5)],
    "rosenbrock4": [_x(*[1.0] * 4)],
    "levy8": [_x(*[1.0] * 8)],
    "mixed": [MIXED_ARGMIN],
}


def test_the_benchmark_has_the_required_problems() -> None:
    assert {"branin", "hartmann6", "ackley5", "rosenbrock4", "levy8", "mixed"} <= set(PROBLEMS)
    assert len(SKLEARN) >= 4
    mixed = PROBLEMS["mixed"].space
    assert mixed.is_conditional
    kinds = {type(p).__name__ for p in mixed.params.values()}
    assert {"Float", "Int", "Categorical"} <= kinds
    assert any(getattr(p, "log", False) for p in mixed.params.values())
    assert any(getattr(p, "power_of_two", False) for p in mixed.params.values())


@pytest.mark.parametrize("name", sorted(KNOWN_ARGMIN))
def test_known_optimum_is_attained_at_the_known_minimizer(name: str) -> None:
    prob = PROBLEMS[name]
    assert prob.optimum is not None
    for cfg in KNOWN_ARGMIN[name]:
        cfg = prob.space.validate(cfg)  # the minimizer lies inside the space
        assert prob.evaluate(cfg) == pytest.approx(prob.optimum, abs=1e-4)


@pytest.mark.parametrize("prob", SYNTHETIC, ids=lambda p: p.name)
def test_no_random_configuration_beats_the_known_optimum(prob) -> None:
    cfgs = prob.space.sample(2000, rng=np.random.default_rng(0))
    values = np.array([prob.evaluate(c) for c in cfgs])
    assert np.all(np.isfinite(values))
    assert values.min() >= prob.optimum - 1e-9
    assert np.median(values) > prob.optimum + 1e-3  # the problem is not trivial


def test_mixed_problem_depends_on_the_conditional_branch_only_when_active() -> None:
    f = PROBLEMS["mixed"].evaluate
    base = {k: v for k, v in MIXED_ARGMIN.items() if k not in ("branch", "alpha")}
    assert f({**base, "branch": "a", "alpha": 0.7}) < f({**base, "branch": "b", "depth": 7})
    assert f({**base, "branch": "b", "depth": 7}) < f({**base, "branch": "c"})
    assert f({**base, "branch": "b", "depth": 1}) > f({**base, "branch": "b", "depth": 7})


@pytest.mark.parametrize("prob", SKLEARN, ids=lambda p: p.name)
def test_sklearn_problem_is_deterministic_and_bounded(prob) -> None:
    from problems import _CACHE

    cfgs = prob.space.sample(3, rng=np.random.default_rng(1))
    first = [prob.evaluate(c) for c in cfgs]
    _CACHE.clear()  # evaluate again from scratch, not from the cache
    second = [prob.evaluate(c) for c in cfgs]
    assert first == second
    for v in first:
        assert 0.0 <= v <= 1.5  # an error rate, or MSE / Var(y) (1.0 = predicting the mean)
    assert len(set(first)) > 1 or prob.name == "knn_digits"  # parameters matter


def test_noisy_problems_are_fixed_per_configuration_and_near_their_noiseless_twin() -> None:
    for noisy, clean in (("optim_choice_noisy", "optim_choice"), ("hartmann6_noisy", "hartmann6")):
        cfgs = PROBLEMS[noisy].space.sample(50, rng=np.random.default_rng(2))
        a = np.array([PROBLEMS[noisy].evaluate(c) for c in cfgs])
        b = np.array([PROBLEMS[noisy].evaluate(c) for c in cfgs])
        c = np.array([PROBLEMS[clean].evaluate(c) for c in cfgs])
        assert np.array_equal(a, b) and not np.array_equal(a, c)
        assert 0.0 < np.std(a - c) < 0.2


def test_held_out_problems_exist() -> None:
    from suite import HELD_OUT

    assert set(PROBLEMS) >= HELD_OUT and len(PROBLEMS) >= 25 and len(HELD_OUT) >= 5
