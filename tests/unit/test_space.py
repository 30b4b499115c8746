from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tunehooks as th
from tunehooks.params import INACTIVE_FILL, SpaceError


def mixed_space() -> th.SearchSpace:
    return th.SearchSpace(
        {
            "lr": th.Float(1e-4, 0.3, log=True),
            "dropout": th.Float(0.0, 0.6),
            "batch_size": th.Int(16, 256, power_of_two=True),
            "layers": th.Int(1, 4),
            "width": th.Int(8, 512, log=True),
            "units": th.Int(10, 50, step=10),
            "optimizer": th.Categorical(["sgd", "adam", "rmsprop"]),
            "momentum": th.Float(0.0, 0.99, condition={"optimizer": ["sgd", "rmsprop"]}),
            "nesterov": th.Categorical([True, False], condition={"optimizer": ["sgd"]}),
            "seed": th.Constant(0),
        }
    )


SPACE = mixed_space()


@st.composite
def configs(draw: st.DrawFn) -> dict:
    cfg = {
        "lr": draw(st.floats(1e-4, 0.3)),
        "dropout": draw(st.floats(0.0, 0.6)),
        "batch_size": 2 ** draw(st.integers(4, 8)),
        "layers": draw(st.integers(1, 4)),
        "width": draw(st.integers(8, 512)),
        "units": draw(st.sampled_from([10, 20, 30, 40, 50])),
        "optimizer": draw(st.sampled_from(["sgd", "adam", "rmsprop"])),
        "seed": 0,
    }
    if cfg["optimizer"] in ("sgd", "rmsprop"):
        cfg["momentum"] = draw(st.floats(0.0, 0.99))
    if cfg["optimizer"] == "sgd":
        cfg["nesterov"] = draw(st.booleans())
    return cfg


@given(configs())
@settings(max_examples=300, deadline=None)
def test_encode_decode_roundtrip_is_exact(cfg: dict) -> None:
    x = SPACE.encode(cfg)
    assert x.shape == (SPACE.dim,)
    assert np.all((x >= 0) & (x <= 1))
    back = SPACE.decode(x)
    assert set(back) == set(cfg)
    for k, v in cfg.items():
        if isinstance(v, float):
            assert math.isclose(back[k], v, rel_tol=1e-12, abs_tol=1e-15), k
        else:
            assert back[k] == v and type(back[k]) is type(v), k


@given(st.lists(st.floats(0.0, 1.0), min_size=SPACE.dim, max_size=SPACE.dim))
@settings(max_examples=300, deadline=None)
def test_any_point_of_the_cube_decodes_to_a_valid_config(u: list[float]) -> None:
    cfg = SPACE.decode(np.array(u))
    assert SPACE.validate(cfg) == cfg
    # decoding is idempotent through the canonical encoding
    assert SPACE.decode(SPACE.canonicalize(np.array(u))) == cfg


def test_inactive_parameters_are_absent_and_filled_explicitly() -> None:
    cfg = SPACE.validate(
        {
            "lr": 0.01,
            "dropout": 0.1,
            "batch_size": 32,
            "layers": 2,
            "width": 64,
            "units": 20,
            "optimizer": "adam",
        }
    )
    assert "momentum" not in cfg and "nesterov" not in cfg and cfg["seed"] == 0
    x = SPACE.encode(cfg)
    assert x[SPACE.columns("momentum")].tolist() == [INACTIVE_FILL]
    assert x[SPACE.columns("nesterov")].tolist() == [0.0, 0.0]
    mask = SPACE.active_mask(cfg)
    assert not mask[SPACE.columns("momentum")].any() and mask[SPACE.columns("lr")].all()


def test_sampling_is_uniform_over_values_and_respects_conditions() -> None:
    rng = np.random.default_rng(0)
    samples = SPACE.sample(3000, rng=rng)
    for s in samples:
        assert ("momentum" in s) == (s["optimizer"] in ("sgd", "rmsprop"))
        assert ("nesterov" in s) == (s["optimizer"] == "sgd")
    opt_counts = {o: sum(s["optimizer"] == o for s in samples) for o in ("sgd", "adam", "rmsprop")}
    assert all(900 < c < 1100 for c in opt_counts.values()), opt_counts
    bs = [s["batch_size"] for s in samples]
    assert {16, 32, 64, 128, 256} == set(bs)
    assert min(bs.count(v) for v in set(bs)) > 450  # endpoints not under-sampled
    lrs = np.log10([s["lr"] for s in samples])
    assert abs(np.median(lrs) - (np.log10(1e-4) + np.log10(0.3)) / 2) < 0.15  # log-uniform


def test_constraints_are_respected_by_sampling_and_grid() -> None:
    space = th.SearchSpace(
        {"a": th.Float(0, 1), "b": th.Float(0, 1), "n": th.Int(1, 5)},
        constraints=[th.LinearConstraint({"a": 1.0, "b": 1.0}, upper=1.0)],
    )
    for cfg in space.sample(500, rng=np.random.default_rng(1)):
        assert cfg["a"] + cfg["b"] <= 1.0 + 1e-9
    grid = list(space.grid(points=3))
    assert grid and all(c["a"] + c["b"] <= 1.0 + 1e-9 for c in grid)
    with pytest.raises(SpaceError, match="violates constraint"):
        space.validate({"a": 0.9, "b": 0.9, "n": 1})


def test_grid_respects_conditions() -> None:
    space = th.SearchSpace(
        {
            "opt": th.Categorical(["sgd", "adam"]),
            "momentum": th.Float(0.0, 0.9, condition={"opt": ["sgd"]}),
            "n": th.Int(1, 2),
        }
    )
    grid = list(space.grid(points=3))
    assert len(grid) == 3 * 2 + 2  # sgd: 3 momenta x 2 n; adam: 2 n
    assert space.grid_size(points=3) == 8
    assert all(("momentum" in g) == (g["opt"] == "sgd") for g in grid)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: th.Float(0, 1, log=True), "log scale needs min > 0"),
        (lambda: th.Float(2, 1), "min must be < max"),
        (lambda: th.Int(0, 10, log=True), "log scale needs min > 0"),
        (lambda: th.Int(3, 3), "min must be < max"),
        (lambda: th.Int(1, 10, step=4), "multiple of step"),
        (lambda: th.Int(3, 64, power_of_two=True), "powers of two"),
        (lambda: th.Int(1.5, 3), "must be an integer"),
        (lambda: th.Categorical(["only"]), "at least two values"),
        (lambda: th.Categorical(["a", "a"]), "distinct"),
        (lambda: th.SearchSpace({}), "at least one parameter"),
        (
            lambda: th.SearchSpace({"m": th.Float(0, 1, condition={"opt": ["sgd"]})}),
            "unknown parameter 'opt'",
        ),
        (
            lambda: th.SearchSpace(
                {
                    "opt": th.Categorical(["sgd", "adam"]),
                    "m": th.Float(0, 1, condition={"opt": ["rmsprop"]}),
                }
            ),
            "'rmsprop' is not a choice of 'opt'",
        ),
        (
            lambda: th.SearchSpace({"n": th.Int(1, 3), "m": th.Float(0, 1, condition={"n": [1]})}),
            "must be categorical",
        ),
        (
            lambda: th.SearchSpace(
                {"a": th.Float(0, 1), "b": th.Float(0, 1)},
                constraints=[th.LinearConstraint({"a": 1, "b": 1}, lower=3)],
            ),
            "infeasible",
        ),
    ],
)
def test_invalid_spaces_name_the_problem(build, message: str) -> None:
    with pytest.raises(SpaceError, match=message):
        build()


def test_validate_names_parameter_and_fix() -> None:
    with pytest.raises(SpaceError, match=r"lr: 0\.5 is outside"):
        SPACE.validate({"lr": 0.5})
    with pytest.raises(SpaceError, match="unknown parameters \\['bogus'\\]"):
        SPACE.validate({"bogus": 1})
    base = {
        "lr": 0.01,
        "dropout": 0.1,
        "batch_size": 32,
        "layers": 2,
        "width": 64,
        "units": 20,
        "optimizer": "adam",
    }
    with pytest.raises(SpaceError, match="momentum: is inactive"):
        SPACE.validate({**base, "momentum": 0.5})
    with pytest.raises(SpaceError, match="batch_size: 48 is not a power of two"):
        SPACE.validate({**base, "batch_size": 48})
    with pytest.raises(SpaceError, match="units: 25 is not on the grid"):
        SPACE.validate({**base, "units": 25})
    with pytest.raises(SpaceError, match="layers: missing"):
        SPACE.validate({k: v for k, v in base.items() if k != "layers"})


def test_space_roundtrips_through_json() -> None:
    text = SPACE.to_json()
    json.loads(text)
    again = th.SearchSpace.from_json(text)
    assert again == SPACE and again.dim == SPACE.dim
    cfg = SPACE.sample(1, rng=np.random.default_rng(3))[0]
    assert np.array_equal(again.encode(cfg), SPACE.encode(cfg))


PARAMS = [
    th.Float(1e-4, 0.3, log=True),
    th.Float(-1.0, 1.0),
    th.Int(1, 6),
    th.Int(10, 50, step=10),
    th.Int(16, 256, power_of_two=True),
    th.Int(8, 512, log=True),
    th.Int(1, 3, log=True),  # low <= 0.5 + 0.5: the log bounds' other branch
    th.Categorical(["a", "b", "c"]),
    th.Constant(3),
]


@pytest.mark.parametrize("param", PARAMS, ids=lambda p: repr(p)[:40])
def test_each_type_rounds_its_columns_as_encode_of_decode_does(param) -> None:
    U = np.random.default_rng(0).random((200, param.n_columns))
    rounded = param.round_columns(U)
    assert rounded.shape == U.shape
    for u, r in zip(U, rounded, strict=True):
        assert r.tolist() == pytest.approx(param.encode(param.decode(u)), abs=1e-12)
        for step in param.steps(r):  # each move lands on a value (a log int's end: itself)
            assert step.tolist() == pytest.approx(param.encode(param.decode(step)), abs=1e-12)


def test_the_discrete_steps_are_the_neighbouring_values_and_the_other_choices() -> None:
    def values(p, v):
        return sorted(p.decode(s) for s in p.steps(np.asarray(p.encode(v))))

    assert values(th.Int(1, 6), 1) == [2]
    assert values(th.Int(16, 256, power_of_two=True), 64) == [32, 128]
    assert values(th.Int(8, 512, log=True), 100) == [99, 101]
    assert values(th.Categorical(["a", "b", "c"]), "b") == ["a", "c"]
    assert th.Float(0.0, 1.0).steps(np.array([0.5])) == []
    assert [th.Int(1, 6).cardinality(), th.Float(0.0, 1.0).cardinality()] == [6, None]


def test_the_parameter_classes_have_one_import_path() -> None:
    import tunehooks.params
    import tunehooks.space

    assert tunehooks.space.__all__ == ["SearchSpace"]
    for name in ("Float", "Int", "Categorical", "Constant", "LinearConstraint", "SpaceError"):
        assert getattr(th, name) is getattr(tunehooks.params, name)
        assert name not in vars(tunehooks.space)
        with pytest.warns(DeprecationWarning, match="tunehooks.params"):
            assert getattr(tunehooks.space, name) is getattr(tunehooks.params, name)
