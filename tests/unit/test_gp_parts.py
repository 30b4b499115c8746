"""The GP optimizer's building blocks: transforms, model, acquisition, encoder."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import tunehooks as th
from tunehooks.optimizers.gp import (
    SpaceEncoder,
    chebyshev_scalarize,
    fit_gp,
    log_ei,
    log_pof,
    optimize_acquisition,
    robust_transform,
)


def test_robust_transform_keeps_order_and_tames_diverged_values() -> None:
    y = np.array([0.91, 0.93, 0.88, 0.95, 0.90, -1e6, np.nan])  # accuracy; a diverged run
    z = robust_transform(y)
    assert np.all(np.isfinite(z))
    assert np.argsort(z[:5]).tolist() == np.argsort(y[:5]).tolist()
    # the diverged and the failed trials are the worst, but do not squash the others
    assert z[5] == z.min() and z[6] == z.min()
    assert np.ptp(z[:5]) > 1.0


def test_a_plateau_sampled_many_times_keeps_the_other_values_apart() -> None:
    # an SVC's CV error: the optimizer sampled a plateau at 0.04 ten times
    errors = np.array([0.04] * 10 + [0.0425, 0.05, 0.1675, 0.2725, 0.34, 0.3675])
    z = robust_transform(-errors)
    assert np.all(np.diff(z[10:]) < 0)  # worse errors stay worse, none tied
    assert z[12] - z[15] > 0.2 * (z[0] - z[15])


def test_chebyshev_scalarization_prefers_balanced_points_for_equal_weights() -> None:
    Y = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.6], [0.2, 0.2]])
    s = chebyshev_scalarize(Y, [0.5, 0.5])
    assert int(np.argmax(s)) == 2


def test_log_ei_is_finite_monotone_and_exact() -> None:
    mean = torch.linspace(-300.0, 5.0, 2000, dtype=torch.float64)
    std = torch.ones_like(mean)
    v = log_ei(mean, std, 0.0)
    assert torch.isfinite(v).all()
    assert (v[1:] >= v[:-1]).all()
    z = mean[mean > -3]
    naive = torch.log(z * torch.special.ndtr(z) + torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi))
    assert torch.allclose(v[mean > -3], naive, rtol=1e-6, atol=1e-9)
    # far below the incumbent: log EI ~ -z^2/2 - log(2 pi)/2 - 2 log|z|
    tail = -0.5 * 300.0**2 - 0.5 * math.log(2 * math.pi) - 2 * math.log(300.0)
    assert abs(float(v[0]) - tail) < 1e-3
    assert torch.isfinite(log_pof(mean, std)).all()


def test_fit_from_five_points_is_stable_and_interpolates() -> None:
    X = np.array([[0.1, 0.2], [0.4, 0.9], [0.5, 0.5], [0.8, 0.1], [0.95, 0.7]])
    y = robust_transform(-((X - 0.5) ** 2).sum(1))
    gp = fit_gp(X, y)
    mean, std = gp.predict_numpy(X)
    assert np.all(np.isfinite(mean)) and np.all(std >= 0)
    assert np.max(np.abs(mean - y)) < 0.3
    _, std_far = gp.predict_numpy(np.array([[0.0, 1.0]]))
    assert std_far[0] > std.max()


def test_categories_are_not_ordered() -> None:
    # choice 0 and 2 are equally good, 1 is bad: an ordered encoding would blur them
    space = th.SearchSpace({"c": th.Categorical(["a", "b", "c"]), "x": th.Float(0, 1)})
    enc = SpaceEncoder(space)
    cfgs = [{"c": c, "x": x} for c in "abc" for x in (0.1, 0.5, 0.9)]
    y = np.array([1.0 if c["c"] != "b" else -1.0 for c in cfgs])
    gp = fit_gp(enc.encode(cfgs), y, categorical_columns=enc.categorical_columns)
    mean, _ = gp.predict_numpy(enc.encode([{"c": c, "x": 0.3} for c in "abc"]))
    assert mean[0] > 0.5 and mean[2] > 0.5 and mean[1] < -0.5


def test_optimize_acquisition_returns_valid_feasible_unexcluded_points() -> None:
    space = th.SearchSpace(
        {
            "a": th.Float(0.0, 1.0),
            "n": th.Int(1, 9),
            "b": th.Float(1e-3, 1.0, log=True),
            "k": th.Categorical(["p", "q"]),
            "m": th.Float(0.0, 1.0, condition={"k": ["q"]}),
        },
        constraints=[th.LinearConstraint({"a": 1.0, "b": 1.0}, upper=0.7)],
    )
    enc = SpaceEncoder(space)
    target = torch.as_tensor(enc.encode([{"a": 0.6, "n": 4, "b": 0.5, "k": "q", "m": 0.3}])[0])

    def acq(X: torch.Tensor) -> torch.Tensor:
        return -((X - target) ** 2).sum(-1)

    x = optimize_acquisition(acq, enc, rng=np.random.default_rng(0))
    assert x is not None
    cfg = enc.decode(x)[0]
    assert space.validate(cfg) == cfg and space.is_feasible(cfg)
    assert cfg["k"] == "q" and cfg["n"] == 4
    x2 = optimize_acquisition(acq, enc, rng=np.random.default_rng(0), exclude=x[None, :])
    assert x2 is not None and not np.allclose(x, x2)


@pytest.mark.parametrize("seed", [0, 1])
def test_neighbors_are_canonical_one_step_moves(seed: int) -> None:
    space = th.SearchSpace(
        {
            "w": th.Int(8, 512, log=True),
            "b": th.Int(16, 256, power_of_two=True),
            "o": th.Categorical(["sgd", "adam", "rms"]),
            "mom": th.Float(0.0, 1.0, condition={"o": ["sgd"]}),
        }
    )
    enc = SpaceEncoder(space)
    x = enc.canonicalize(np.random.default_rng(seed).random((1, space.dim)))[0]
    nb = enc.neighbors(x)
    assert len(nb) >= 2 + 1  # two other optimizers, at least one int step each way
    assert np.allclose(enc.canonicalize(nb), nb)
    for row in enc.decode(nb):
        assert space.validate(row) == row


def test_fast_posterior_equals_gpytorchs_exact_gp() -> None:
    import gpytorch

    space = th.SearchSpace(
        {"x": th.Float(0, 1), "y": th.Float(0, 1), "c": th.Categorical(list("abc"))}
    )
    enc = SpaceEncoder(space)
    cfgs = space.sample(12, rng=np.random.default_rng(0))
    X = enc.encode(cfgs)
    y = robust_transform(np.sin(5 * X[:, 0]) + X[:, 1] + X[:, 2])
    gp = fit_gp(X, y, categorical_columns=enc.categorical_columns)
    m = gp.module

    class Exact(gpytorch.models.ExactGP):
        def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
            return gpytorch.distributions.MultivariateNormal(m.mean(x), m.kernel(x))

    tx, ty = torch.as_tensor(X), torch.as_tensor(y)
    model = Exact(tx, ty, m.likelihood).double().eval()
    Xq = enc.encode(space.sample(5, rng=np.random.default_rng(1)))
    with torch.no_grad(), gpytorch.settings.fast_pred_var(False):
        post = model(torch.as_tensor(Xq))
    mean, std = gp.predict_numpy(Xq)
    assert np.allclose(mean, post.mean.numpy(), atol=1e-6)
    assert np.allclose(std, post.variance.sqrt().numpy(), atol=1e-5)


def _reference_map_loss(module, X: torch.Tensor, y: torch.Tensor, t: torch.Tensor):
    """The MAP objective written plainly in torch (autograd through the Cholesky):
    negative log marginal likelihood minus the log-normal priors, per point."""
    dn, dc = len(module.numeric), len(module.categorical)
    Xn, Xc = X[:, module.numeric], X[:, module.categorical]
    n = len(X)

    def lognormal(lv: torch.Tensor, mu: float, sd: float) -> torch.Tensor:
        return (-lv - 0.5 * ((lv - mu) / sd) ** 2).sum()

    K = t[dn + dc].exp().expand(n, n)
    if dn:
        d2 = (((Xn[:, None, :] - Xn[None, :, :]) / t[:dn].exp()) ** 2).sum(-1)
        r = (5.0 * d2).clamp_min(1e-30).sqrt()
        K = K * (1.0 + r + r * r / 3.0) * torch.exp(-r)
    if dc:
        d2 = (((Xc[:, None, :] - Xc[None, :, :]) / t[dn : dn + dc].exp()) ** 2).sum(-1)
        K = K * torch.exp(-0.5 * d2)
    K = K + t[dn + dc + 1].exp() * torch.eye(n, dtype=X.dtype)
    resid = (y - t[dn + dc + 2]).unsqueeze(-1)
    L = torch.linalg.cholesky(K)
    nll = 0.5 * (resid * torch.cholesky_solve(resid, L)).sum() + L.diagonal().log().sum()
    prior = lognormal(t[: dn + dc], module.ls_loc, math.sqrt(3.0))
    prior = prior + lognormal(t[dn + dc], 0.0, 1.0) + lognormal(t[dn + dc + 1], -4.0, 1.0)
    return (nll + 0.5 * n * math.log(2 * math.pi) - prior) / n


@pytest.mark.parametrize(("dn", "dc"), [(3, 0), (2, 3), (0, 2)])
def test_the_closed_form_map_gradient_equals_autograd(dn: int, dc: int) -> None:
    from tunehooks.optimizers.gp import model

    rng = np.random.default_rng(dn * 10 + dc)
    n = 15
    onehot = np.eye(max(dc, 1))[rng.integers(0, max(dc, 1), n)][:, :dc]
    X = np.concatenate([rng.random((n, dn)), onehot], axis=1)
    y = rng.normal(size=n)
    module = model._build(dn + dc, list(range(dn)), list(range(dn, dn + dc)))
    objective = model._MapObjective(module, X, y)
    for _ in range(3):
        theta = np.concatenate(
            [
                rng.normal(-1, 0.7, dn + dc),
                [rng.normal(0, 0.5)],
                [rng.normal(-3, 1)],
                [rng.normal()],
            ]
        )
        value, grad = objective(theta)
        t = torch.tensor(theta, requires_grad=True)
        ref = _reference_map_loss(module, torch.tensor(X), torch.tensor(y), t)
        (ref_grad,) = torch.autograd.grad(ref, t)
        assert value == pytest.approx(float(ref.detach()), rel=1e-10, abs=1e-12)
        np.testing.assert_allclose(grad, ref_grad.numpy(), rtol=1e-8, atol=1e-10)


def _reference_grouped_loss(module, X: torch.Tensor, y: torch.Tensor, t: torch.Tensor):
    """The grouped, additive MAP objective written plainly in torch: per categorical
    parameter one RBF factor, ``(1 - w) Km prod k_g + w mean(Km, k_g...)``."""
    dn, groups = len(module.numeric), module.cat_groups
    dc, n = len(groups), len(X)
    Xc = X[:, module.categorical]

    def lognormal(lv: torch.Tensor, mu: float, sd: float) -> torch.Tensor:
        return (-lv - 0.5 * ((lv - mu) / sd) ** 2).sum()

    terms = []
    if dn:
        Xn = X[:, module.numeric]
        d2 = (((Xn[:, None, :] - Xn[None, :, :]) / t[:dn].exp()) ** 2).sum(-1)
        r = (5.0 * d2).clamp_min(1e-30).sqrt()
        terms.append((1.0 + r + r * r / 3.0) * torch.exp(-r))
    for j, g in enumerate(groups):
        Xg = Xc[:, g]
        d2 = ((Xg[:, None, :] - Xg[None, :, :]) ** 2).sum(-1) / t[dn + j].exp() ** 2
        terms.append(torch.exp(-0.5 * d2))
    w = torch.sigmoid(t[dn + dc + 2])
    K = t[dn + dc].exp() * ((1 - w) * torch.stack(terms).prod(0) + w * torch.stack(terms).mean(0))
    K = K + t[dn + dc + 1].exp() * torch.eye(n, dtype=X.dtype)
    resid = (y - t[-1]).unsqueeze(-1)
    L = torch.linalg.cholesky(K)
    nll = 0.5 * (resid * torch.cholesky_solve(resid, L)).sum() + L.diagonal().log().sum()
    prior = lognormal(t[: dn + dc], module.ls_loc, math.sqrt(3.0))
    prior = prior + lognormal(t[dn + dc], 0.0, 1.0) + lognormal(t[dn + dc + 1], -4.0, 1.0)
    prior = prior - 0.5 * t[dn + dc + 2] ** 2
    return (nll + 0.5 * n * math.log(2 * math.pi) - prior) / n


@pytest.mark.parametrize(("dn", "sizes"), [(2, (3, 2)), (0, (3, 4)), (1, (2,))])
def test_the_grouped_additive_map_gradient_equals_autograd(dn: int, sizes: tuple[int, ...]) -> None:
    from tunehooks.optimizers.gp import model

    rng = np.random.default_rng(dn * 10 + len(sizes))
    n = 15
    onehots = [np.eye(k)[rng.integers(0, k, n)] for k in sizes]
    X = np.concatenate([rng.random((n, dn)), *onehots], axis=1)
    y = rng.normal(size=n)
    cat = list(range(dn, X.shape[1]))
    bounds = np.cumsum([dn, *sizes])
    groups = [list(range(a, b)) for a, b in itertools.pairwise(bounds)]
    module = model._build(X.shape[1], list(range(dn)), cat, groups)
    assert module.additive and len(module.cat_groups) == len(sizes)
    objective = model._MapObjective(module, X, y)
    for _ in range(3):
        theta = np.concatenate(
            [
                rng.normal(-0.3, 0.7, dn + len(sizes)),
                [rng.normal(0, 0.5)],
                [rng.normal(-3, 1)],
                [rng.normal()],
                [rng.normal()],
            ]
        )
        value, grad = objective(theta)
        t = torch.tensor(theta, requires_grad=True)
        ref = _reference_grouped_loss(module, torch.tensor(X), torch.tensor(y), t)
        (ref_grad,) = torch.autograd.grad(ref, t)
        assert value == pytest.approx(float(ref.detach()), rel=1e-10, abs=1e-12)
        np.testing.assert_allclose(grad, ref_grad.numpy(), rtol=1e-7, atol=1e-9)


def test_a_categorical_main_effect_carries_over_to_unseen_combinations() -> None:
    """Two categoricals, additive effects: the grouped kernel predicts the best choice of
    each, combined, although that combination was never observed."""
    space = th.SearchSpace(
        {"a": th.Categorical(["a0", "a1", "a2", "a3"]), "b": th.Categorical(["b0", "b1", "b2"])}
    )
    enc = SpaceEncoder(space)
    effect_a, effect_b = [0.0, 1.0, 2.0, 3.0], [0.0, 1.5, 3.0]
    seen = [(i, j) for i in range(4) for j in range(3) if (i, j) != (3, 2)]
    cfgs = [{"a": f"a{i}", "b": f"b{j}"} for i, j in seen]
    y = np.array([effect_a[i] + effect_b[j] for i, j in seen])
    X = enc.encode(cfgs)
    gp = fit_gp(
        X, y, categorical_columns=enc.categorical_columns,
        categorical_groups=enc.categorical_groups,
    )  # fmt: skip
    best = enc.encode([{"a": "a3", "b": "b2"}])
    mean, _ = gp.predict_numpy(np.concatenate([best, X]))
    assert mean[0] > mean[1:].max()


def test_yeo_johnson_matches_scipy_where_scipy_stays_in_its_bracket() -> None:
    from scipy import stats

    from tunehooks.optimizers.gp.transforms import yeo_johnson

    rng = np.random.default_rng(3)
    compared = 0
    for k in range(40):
        y = rng.standard_t(4, size=int(rng.integers(8, 300)))
        if k % 2:
            y = np.exp(y / 2)
        y = (y - y.mean()) / y.std()
        ref, lam = stats.yeojohnson(y)
        if not -2 <= lam <= 2:
            continue
        compared += 1
        ours = yeo_johnson(y)

        def z(v: np.ndarray) -> np.ndarray:
            return (v - v.mean()) / v.std()

        np.testing.assert_allclose(z(ours), z(ref), atol=0.03)
    assert compared >= 20


def test_the_multi_fidelity_targets_clip_the_bad_tail_over_all_values():
    """compress=False: median and spread of all values (repeats count), the tail clipped."""
    from tunehooks.optimizers.gp.transforms import robust_transform

    y = np.array([0.5] * 6 + [0.4, 0.6, 0.7, -5.0, -50.0])
    clipped = robust_transform(y, compress=False)
    assert clipped[9] == clipped[10]  # both below the threshold: tied at it
    compressed = robust_transform(y)
    assert compressed[10] < compressed[9]  # the default keeps their order
    assert list(np.argsort(clipped[:9], kind="stable")) == list(np.argsort(y[:9], kind="stable"))
