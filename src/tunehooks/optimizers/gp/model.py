"""The surrogate: an exact gpytorch GP with priors, fitted by a few L-BFGS-B steps.

Kernel: ``outputscale * Matern-5/2(ARD, numeric columns) * RBF(ARD, one-hot
columns)``. The one-hot factor is a categorical (Hamming-type) kernel: two
configurations lose correlation by a learned amount per choice that differs,
and no order between choices exists. Priors (inputs in ``[0, 1]``, outputs
standardized): lengthscales ``LogNormal(sqrt(2) + log(d) / 2, sqrt(3))`` (the
dimension-scaled prior of Hvarfner et al., 2024), outputscale
``LogNormal(0, 1)``, noise ``LogNormal(-4, 1)`` (learned, at least 1e-6).

Given the one-hot columns of each categorical parameter (``categorical_groups``,
as the GP optimizer does), the categorical part is per parameter instead: one
lengthscale each (at least 1), ``d`` counts parameters, not columns, and the
kernel mixes in an additive part, ``(1 - w) * Km * prod_g k_g + w * mean(Km, k_1,
..., k_G)`` with the share ``w`` learned (logit prior ``N(0, 1)``), as CoCaBO's
sum-plus-product kernel (Ru et al., 2020). The product alone only correlates
combinations close to observed ones; the additive part carries a parameter's
main effect (this choice of optimizer is good) to combinations never observed.

Hyperparameters are fitted on at most ``max_fit_points`` observations (the
best ones plus a seeded spread of the rest); the posterior then conditions on
all of them with one Cholesky factorization. Everything is float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["FittedGP", "fit_gp"]

_JITTERS = (0.0, 1e-8, 1e-6, 1e-4)


def _build(
    dim: int,
    numeric: Sequence[int],
    categorical: Sequence[int],
    groups: Sequence[Sequence[int]] | None = None,
) -> _GPModule:
    """The module; ``groups``: the categorical columns of each categorical parameter
    (one lengthscale each; default: one per column). ``dim`` is the number of
    columns; the lengthscale prior counts a group as one input."""
    import gpytorch
    from gpytorch.constraints import GreaterThan, Interval
    from gpytorch.priors import LogNormalPrior

    cat_groups = _groups(categorical, groups)
    # one input per column, or per categorical parameter when the groups are given
    n_inputs = dim if groups is None else dim - len(categorical) + len(cat_groups)
    loc = math.sqrt(2.0) + 0.5 * math.log(max(1, n_inputs))
    ls_prior = LogNormalPrior(loc, math.sqrt(3.0))
    ls_constraint = Interval(1e-3, 1e3)
    parts = []
    if numeric:
        parts.append(
            gpytorch.kernels.MaternKernel(
                nu=2.5,
                ard_num_dims=len(numeric),
                active_dims=tuple(numeric),
                lengthscale_prior=ls_prior,
                lengthscale_constraint=ls_constraint,
            )
        )
    if categorical:
        parts.append(
            gpytorch.kernels.RBFKernel(
                ard_num_dims=len(categorical),
                active_dims=tuple(categorical),
                lengthscale_prior=LogNormalPrior(loc, math.sqrt(3.0)),
                lengthscale_constraint=ls_constraint,
            )
        )
    base = parts[0] if len(parts) == 1 else gpytorch.kernels.ProductKernel(*parts)
    kernel = gpytorch.kernels.ScaleKernel(
        base, outputscale_prior=LogNormalPrior(0.0, 1.0), outputscale_constraint=GreaterThan(1e-4)
    )
    likelihood = gpytorch.likelihoods.GaussianLikelihood(
        noise_prior=LogNormalPrior(-4.0, 1.0), noise_constraint=GreaterThan(1e-6)
    )
    mean = gpytorch.means.ConstantMean()
    init_ls = math.exp(loc - 1.5)
    for k in parts:
        k.lengthscale = torch.full_like(k.lengthscale, init_ls)
    kernel.outputscale = torch.tensor(1.0)
    likelihood.noise = torch.tensor(1e-3)
    module = _GPModule(
        mean, kernel, likelihood, numeric, categorical, loc, cat_groups,
        additive=groups is not None and bool(categorical),
    )  # fmt: skip
    return module.double()


def _groups(categorical: Sequence[int], groups: Sequence[Sequence[int]] | None) -> list[list[int]]:
    """Positions (within ``categorical``) of each group's columns; ungrouped columns alone."""
    pos = {c: i for i, c in enumerate(categorical)}
    out: list[list[int]] = []
    taken: set[int] = set()
    for g in groups or ():
        members = [pos[c] for c in g if c in pos and pos[c] not in taken]
        if members:
            out.append(members)
            taken.update(members)
    out += [[i] for i in range(len(categorical)) if i not in taken]
    return sorted(out)


class _GPModule(torch.nn.Module):
    """The gpytorch mean, kernel and likelihood, with a fast dense kernel evaluation.

    The hyperparameters, their constraints and priors are gpytorch's. gpytorch's
    lazy kernel machinery costs more than the arithmetic at these sizes, so
    :meth:`covar` evaluates the same Matern-5/2 and RBF formulas densely (with
    the squared-distance-by-matmul trick).
    """

    def __init__(
        self,
        mean: Any,
        kernel: Any,
        likelihood: Any,
        numeric: Sequence[int],
        categorical: Sequence[int],
        ls_loc: float,
        cat_groups: Sequence[Sequence[int]] | None = None,
        *,
        additive: bool = False,
    ) -> None:
        super().__init__()
        self.cat_groups = [list(g) for g in (cat_groups or [[i] for i in range(len(categorical))])]
        # the additive share of the kernel (see fit_gp); learned with the hyperparameters
        self.additive = additive
        self.mix = torch.tensor(0.5 if additive else 0.0, dtype=torch.float64)
        self._group_idx = [torch.as_tensor(g, dtype=torch.long) for g in self.cat_groups]
        self.mean = mean
        self.kernel = kernel
        self.likelihood = likelihood
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.ls_loc = ls_loc
        self.parts = list(getattr(kernel.base_kernel, "kernels", [kernel.base_kernel]))
        self._num_idx = torch.as_tensor(self.numeric, dtype=torch.long)
        self._cat_idx = torch.as_tensor(self.categorical, dtype=torch.long)
        self._frozen: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None] | None = None

    def _lengthscales(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if self._frozen is not None:
            return self._frozen[1], self._frozen[2]
        i = 0
        ls_num = ls_cat = None
        if self.numeric:
            ls_num = self.parts[i].lengthscale.reshape(-1)
            i += 1
        if self.categorical:
            ls_cat = self.parts[i].lengthscale.reshape(-1)
        return ls_num, ls_cat

    def features(self, X: torch.Tensor) -> _Features:
        """Columns scaled by their lengthscales, with squared norms (for :meth:`covar_features`)."""
        ls_num, ls_cat = self._lengthscales()
        out: list[tuple[torch.Tensor, torch.Tensor] | None] = []
        for ls, idx in ((ls_num, self._num_idx), (ls_cat, self._cat_idx)):
            if ls is None:
                out.append(None)
            else:
                Z = X[:, idx] / ls
                out.append((Z, (Z * Z).sum(-1, keepdim=True)))
        return _Features(out[0], out[1])

    def covar_features(self, A: _Features, B: _Features) -> torch.Tensor:
        """Dense kernel matrix from :meth:`features` of two sets of rows."""
        K: torch.Tensor = self._frozen[0] if self._frozen is not None else self.kernel.outputscale
        Km: torch.Tensor | None = None
        if A.numeric is not None and B.numeric is not None:
            d2 = _sq_dist(A.numeric, B.numeric)
            r = (5.0 * d2).clamp_min(1e-30).sqrt()
            Km = (1.0 + r + r * r / 3.0) * torch.exp(-r)
        if A.categorical is None or B.categorical is None:
            return K if Km is None else K * Km
        if not self.additive:
            Kc = torch.exp(-0.5 * _sq_dist(A.categorical, B.categorical))
            return K * Kc if Km is None else K * Km * Kc
        # (1 - w) * Km * prod_g k_g + w * mean(Km, k_1, ..., k_G): main effects of each
        # categorical carry over to combinations never observed
        Za, Zb = A.categorical[0], B.categorical[0]
        parts = []
        for g in self._group_idx:
            a, b = Za[:, g], Zb[:, g]
            na, nb = (a * a).sum(-1, keepdim=True), (b * b).sum(-1, keepdim=True)
            parts.append(torch.exp(-0.5 * (na + nb.T - 2.0 * a @ b.T).clamp_min(0.0)))
        prod = torch.stack(parts).prod(0)
        total = torch.stack(parts).sum(0)
        if Km is not None:
            prod, total = prod * Km, total + Km
        w = self.mix
        return K * ((1.0 - w) * prod + w * total / (len(parts) + (Km is not None)))

    def covar(self, X1: torch.Tensor, X2: torch.Tensor) -> torch.Tensor:
        """Dense kernel matrix between the rows of ``X1`` and ``X2``."""
        return self.covar_features(self.features(X1), self.features(X2))

    def freeze(self) -> None:
        """Fix the hyperparameters (no gradients, no constraint transforms per call)."""
        for p in self.parameters():
            p.requires_grad_(False)
        ls_num, ls_cat = self._lengthscales()
        self._frozen = (
            self.kernel.outputscale.detach().clone(),
            None if ls_num is None else ls_num.detach().clone(),
            None if ls_cat is None else ls_cat.detach().clone(),
        )


@dataclass(frozen=True)
class _Features:
    numeric: tuple[torch.Tensor, torch.Tensor] | None
    categorical: tuple[torch.Tensor, torch.Tensor] | None


def _sq_dist(
    A: tuple[torch.Tensor, torch.Tensor], B: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    out: torch.Tensor = (A[1] + B[1].T - 2.0 * A[0] @ B[0].T).clamp_min(0.0)
    return out


def _cholesky(K: torch.Tensor) -> torch.Tensor:
    eye = torch.eye(K.shape[-1], dtype=K.dtype)
    scale = float(K.diagonal().mean().detach()) or 1.0
    for jitter in _JITTERS:
        L, info = torch.linalg.cholesky_ex(K + jitter * scale * eye)
        if int(info) == 0:
            out: torch.Tensor = L
            return out
    raise RuntimeError("covariance matrix is not positive definite")


def _fit_subset(y: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    n = len(y)
    if n <= cap:
        return np.arange(n)
    order = np.argsort(-y, kind="stable")
    n_best = cap // 4
    rest = order[n_best:]
    picked = rng.choice(len(rest), size=cap - n_best, replace=False)
    return np.sort(np.concatenate([order[:n_best], rest[picked]]))


_LS_BOUNDS = (math.log(1.001e-3), math.log(0.999e3))
_OS_BOUNDS = (math.log(1.001e-4), math.log(1e4))
_NOISE_BOUNDS = (math.log(1.001e-6), math.log(10.0))
_MIX_BOUNDS = (-6.0, 6.0)  # logit of the additive share
# A categorical parameter's lengthscale (grouped kernel) is at least 1: two of its choices
# keep a correlation of at least exp(-1). One disastrous choice otherwise drives the MAP
# fit to decorrelate all of them, and the model learns nothing about the combinations it
# has not seen (bench/results/blackbox.md, cat_heavy).
_CAT_LS_BOUNDS = (0.0, _LS_BOUNDS[1])


def _logit(w: float) -> float:
    w = min(max(w, 1e-6), 1 - 1e-6)
    return math.log(w / (1.0 - w))


def _lognormal(lv: np.ndarray, mu: float, sd: float) -> tuple[float, np.ndarray]:
    """Log density (up to a constant) of log-normal hyperparameters at log values
    ``lv``, and its gradient in ``lv``."""
    return float((-lv - 0.5 * ((lv - mu) / sd) ** 2).sum()), -1.0 - (lv - mu) / sd**2


class _MapObjective:
    """The MAP objective of the hyperparameters and its closed-form gradient, in numpy.

    ``theta = [log numeric lengthscales, log categorical lengthscales (one per
    group), log outputscale, log noise, (logit of the additive share,) constant
    mean]``; the value is the negative log marginal likelihood minus the priors of
    :func:`_build`, per point. Matern-5/2 ARD over numeric columns times RBF over
    each group of one-hot columns, plus (additive modules) their mean.
    With ``W = K^-1 - a a^T`` (``a = K^-1 (y - mean)``) every derivative is
    ``0.5 tr(W dK/dtheta)``; a few dozen numpy operations on n x n arrays, where
    autograd through torch costs ~1 ms an evaluation at any size below 100.
    """

    def __init__(self, module: _GPModule, X: np.ndarray, y: np.ndarray) -> None:
        self.dn, self.dc = len(module.numeric), len(module.cat_groups)
        self.n = len(X)
        self.y = y
        Xn, Xc = X[:, list(module.numeric)], X[:, list(module.categorical)]
        # squared differences per column, (n, n, d); one-hot columns summed per group
        self.Dn = (Xn[:, None, :] - Xn[None, :, :]) ** 2
        Dc = (Xc[:, None, :] - Xc[None, :, :]) ** 2
        self.Dc = np.zeros((self.n, self.n, self.dc))
        for j, g in enumerate(module.cat_groups):
            self.Dc[:, :, j] = Dc[:, :, g].sum(-1)
        self.ls_loc = module.ls_loc
        self.ls_scale = math.sqrt(3.0)
        self.const = 0.5 * self.n * math.log(2 * math.pi)
        self.additive = module.additive and self.dc > 0

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        from scipy.linalg import LinAlgError, cho_factor, cho_solve

        dn, dc, n = self.dn, self.dc, self.n
        grad = np.zeros_like(theta)
        os_, noise, mean = math.exp(theta[dn + dc]), math.exp(theta[dn + dc + 1]), theta[-1]
        base = np.full((n, n), os_)  # outputscale times the categorical factor
        if dc:
            inv_lc2 = np.exp(-2.0 * theta[dn : dn + dc])
            kg = np.exp(-0.5 * self.Dc * inv_lc2)  # (n, n, groups)
            base = base * kg.prod(-1)
        Km = np.ones((n, n))
        if dn:
            inv_ls2 = np.exp(-2.0 * theta[:dn])
            r = np.sqrt(5.0 * (self.Dn @ inv_ls2))
            e = np.exp(-r)
            dKm = (5.0 / 3.0) * (1.0 + r) * e  # dKm/dlog ls_d = dKm * D_d / ls_d^2
            Km = (1.0 + r + r * r / 3.0) * e
        P = base * Km  # outputscale * product kernel
        if self.additive:
            u = theta[dn + dc + 2]
            w = 1.0 / (1.0 + math.exp(-u))
            nb = dc + (1 if dn else 0)
            S = kg.sum(-1) + (Km if dn else 0.0)
            Ks = (1.0 - w) * P + (w * os_ / nb) * S
        else:
            Ks = P  # outputscale * kernel, without noise
        K = Ks + noise * np.eye(n)
        scale = float(np.diag(K).mean()) or 1.0
        for jitter in _JITTERS:
            try:
                cf = cho_factor(K + jitter * scale * np.eye(n), lower=True, check_finite=False)
                break
            except LinAlgError:
                continue
        else:
            return 1e10, grad
        resid = self.y - mean
        a = cho_solve(cf, resid, check_finite=False)
        nll = 0.5 * float(resid @ a) + float(np.log(np.diag(cf[0])).sum())
        W = cho_solve(cf, np.eye(n), check_finite=False) - np.outer(a, a)
        if not self.additive:
            if dn:
                grad[:dn] = 0.5 * np.einsum("ij,ijd->d", W * base * dKm, self.Dn) * inv_ls2
            if dc:
                grad[dn : dn + dc] = 0.5 * np.einsum("ij,ijd->d", W * Ks, self.Dc) * inv_lc2
        else:
            if dn:
                mult = (1.0 - w) * base + w * os_ / nb
                grad[:dn] = 0.5 * np.einsum("ij,ijd->d", W * mult * dKm, self.Dn) * inv_ls2
            dk = (1.0 - w) * P[:, :, None] + (w * os_ / nb) * kg
            grad[dn : dn + dc] = (
                0.5 * np.einsum("ijd,ijd->d", W[:, :, None] * dk, self.Dc) * inv_lc2
            )
            A = os_ * S / nb
            grad[dn + dc + 2] = 0.5 * float((W * (A - P)).sum()) * w * (1.0 - w)
        grad[dn + dc] = 0.5 * float((W * Ks).sum())
        grad[dn + dc + 1] = 0.5 * noise * float(np.trace(W))
        grad[-1] = -float(a.sum())
        p_ls, g_ls = _lognormal(theta[: dn + dc], self.ls_loc, self.ls_scale)
        p_os, g_os = _lognormal(theta[dn + dc : dn + dc + 1], 0.0, 1.0)
        p_no, g_no = _lognormal(theta[dn + dc + 1 : dn + dc + 2], -4.0, 1.0)
        grad[: dn + dc] -= g_ls
        grad[dn + dc] -= g_os[0]
        grad[dn + dc + 1] -= g_no[0]
        p_mix = 0.0
        if self.additive:  # a standard normal prior on the logit of the additive share
            p_mix = -0.5 * u * u
            grad[dn + dc + 2] += u
        value = (nll + self.const - p_ls - p_os - p_no - p_mix) / n
        if not math.isfinite(value) or not np.all(np.isfinite(grad)):
            return 1e10, np.zeros_like(theta)
        return value, grad / n


def _fit_hyperparameters(module: _GPModule, X: torch.Tensor, y: torch.Tensor, maxiter: int) -> None:
    """MAP fit by L-BFGS-B over the log hyperparameters, written back into ``module``.

    The objective (:class:`_MapObjective`) is the negative log marginal
    likelihood plus the log-normal priors of :func:`_build`, per point, with its
    closed-form gradient.
    """
    from scipy.optimize import minimize

    dn, dc = len(module.numeric), len(module.cat_groups)
    fun = _MapObjective(module, X.numpy(), y.numpy())
    ls_num, ls_cat = module._lengthscales()
    firsts = [g[0] for g in module.cat_groups]
    with torch.no_grad():
        theta0 = np.concatenate(
            [
                np.log(ls_num.numpy()) if ls_num is not None else np.zeros(0),
                np.log(ls_cat.numpy()[firsts]) if ls_cat is not None else np.zeros(0),
                [math.log(float(module.kernel.outputscale))],
                [math.log(float(module.likelihood.noise))],
                [_logit(float(module.mix))] if fun.additive else [],
                [float(module.mean.constant)],
            ]
        )
    cat_bounds = _CAT_LS_BOUNDS if fun.additive else _LS_BOUNDS
    bounds: list[tuple[float | None, float | None]] = [_LS_BOUNDS] * dn
    bounds += [cat_bounds] * dc
    bounds += [_OS_BOUNDS, _NOISE_BOUNDS, *[_MIX_BOUNDS] * fun.additive, (None, None)]
    theta0 = np.clip(
        theta0,
        [b[0] if b[0] is not None else -np.inf for b in bounds],
        [b[1] if b[1] is not None else np.inf for b in bounds],
    )
    f0 = fun(theta0)[0]
    res = minimize(
        fun,
        theta0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        # a loose tolerance: hyperparameters need not be precise (as Optuna's GPSampler)
        options={"maxiter": maxiter, "maxfun": maxiter * 2, "gtol": 1e-3, "ftol": 1e-6},
    )
    best = res.x if res.fun < f0 else theta0
    with torch.no_grad():
        v = torch.as_tensor(np.exp(best[: dn + dc + 2]), dtype=torch.float64)
        per_column = []
        if dn:
            per_column.append(v[:dn])
        if dc:  # each group's lengthscale on every one of its columns
            col = torch.empty(len(module.categorical), dtype=torch.float64)
            for j, g in enumerate(module.cat_groups):
                col[g] = v[dn + j]
            per_column.append(col)
        for part, ls in zip(module.parts, per_column, strict=True):
            part.lengthscale = ls.reshape(part.lengthscale.shape)
        module.kernel.outputscale = v[dn + dc]
        module.likelihood.noise = v[dn + dc + 1].reshape(module.likelihood.noise.shape)
        if fun.additive:
            module.mix = torch.tensor(
                1.0 / (1.0 + math.exp(-best[dn + dc + 2])), dtype=torch.float64
            )
        module.mean.constant.fill_(float(best[-1]))


@dataclass
class FittedGP:
    """A GP conditioned on data: ``predict`` gives the latent mean and standard deviation.

    Built by :func:`fit_gp`; :meth:`condition` adds points (e.g. pending trials
    with believed values) without refitting the hyperparameters. ``predict``
    is differentiable with torch autograd.

    Example:
        >>> import numpy as np
        >>> X = np.linspace(0, 1, 6)[:, None]
        >>> gp = fit_gp(X, np.cos(4 * X[:, 0]))
        >>> _, std = gp.predict_numpy(np.array([[0.9]]))
        >>> pinned = gp.condition(np.array([[0.9]]), np.array([-0.9]), noise=1e-6)
        >>> mean, std_after = pinned.predict_numpy(np.array([[0.9]]))
        >>> round(float(mean[0]), 2), bool(std_after[0] < std[0])  # a believed point pins it
        (-0.9, True)
    """

    module: _GPModule
    train_x: torch.Tensor
    train_y: torch.Tensor
    train_noise: torch.Tensor
    _L: torch.Tensor
    _alpha: torch.Tensor
    _train_features: _Features

    @classmethod
    def from_module(
        cls,
        module: _GPModule,
        X: torch.Tensor,
        y: torch.Tensor,
        noise: torch.Tensor | None = None,
    ) -> FittedGP:
        """Condition ``module`` on ``(X, y)``; ``noise``: per-point noise variances
        (default: the learned noise everywhere)."""
        with torch.no_grad():
            if noise is None:
                noise = module.likelihood.noise.detach().reshape(()).expand(len(X)).clone()
            F = module.features(X)
            K = module.covar_features(F, F) + torch.diag(noise)
            L = _cholesky(K)
            alpha = torch.cholesky_solve((y - module.mean.constant).unsqueeze(-1), L)
        return cls(module, X, y, noise, L, alpha, F)

    @property
    def noise(self) -> float:
        return float(self.module.likelihood.noise)

    @property
    def outputscale(self) -> float:
        return float(self.module.kernel.outputscale)

    def predict(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and standard deviation of the latent function at rows of ``X``."""
        Ks = self.module.covar_features(self.module.features(X), self._train_features)
        mean = self.module.mean.constant.detach() + (Ks @ self._alpha).squeeze(-1)
        v = torch.linalg.solve_triangular(self._L, Ks.T, upper=False)
        var = self.module.kernel.outputscale.detach() - (v * v).sum(0)
        return mean, var.clamp_min(1e-12).sqrt()

    def predict_numpy(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            m, s = self.predict(torch.as_tensor(np.atleast_2d(X), dtype=torch.float64))
        return m.numpy(), s.numpy()

    def condition(self, X: np.ndarray, y: np.ndarray, *, noise: float | None = None) -> FittedGP:
        """A GP with the same hyperparameters, conditioned on these extra points too.

        ``noise``: the noise variance of the new points (default: the learned
        noise). Pending trials use a tiny one, so that their believed values pin
        the model down and parallel suggestions move elsewhere.
        """
        if len(X) == 0:
            return self
        Xn = torch.cat([self.train_x, torch.as_tensor(X, dtype=torch.float64)])
        yn = torch.cat([self.train_y, torch.as_tensor(y, dtype=torch.float64)])
        extra = torch.full((len(X),), self.noise if noise is None else float(noise))
        nn = torch.cat([self.train_noise, extra.to(torch.float64)])
        return FittedGP.from_module(self.module, Xn, yn, nn)


def fit_gp(
    train_x: np.ndarray,
    train_y: np.ndarray,
    *,
    categorical_columns: Sequence[int] = (),
    categorical_groups: Sequence[Sequence[int]] | None = None,
    max_fit_points: int = 128,
    maxiter: int = 60,
    seed: int = 0,
) -> FittedGP:
    """Fit the GP's hyperparameters (MAP) and condition it on every point.

    Args:
        train_x: features in ``[0, 1]``, shape ``(n, d)`` (e.g. from :class:`SpaceEncoder`).
        train_y: targets, larger is better, already transformed (e.g. by
            :func:`robust_transform`); shape ``(n,)``.
        categorical_columns: one-hot columns (kernel: RBF over them); the other
            columns get a Matern-5/2 ARD kernel.
        categorical_groups: the one-hot columns of each categorical parameter
            (e.g. :attr:`SpaceEncoder.categorical_groups`): one lengthscale per
            parameter, so two configurations lose correlation by a learned amount
            per parameter whose choice differs. Default: one per column.
        max_fit_points: hyperparameters are fitted on at most this many points.
        maxiter: L-BFGS-B iterations for the hyperparameters.
        seed: picks the fitting subset when there are more points than ``max_fit_points``.

    Example:
        >>> import numpy as np
        >>> X = np.linspace(0, 1, 8)[:, None]
        >>> gp = fit_gp(X, np.sin(6 * X[:, 0]))
        >>> mean, std = gp.predict_numpy(X[:2])
        >>> bool(abs(mean[0] - 0.0) < 0.1 and std[0] < 0.2)
        True
    """
    X_np = np.asarray(train_x, dtype=float)
    y_np = np.asarray(train_y, dtype=float).ravel()
    if X_np.ndim != 2 or len(X_np) != len(y_np) or len(y_np) == 0:
        raise ValueError(
            f"fit_gp: train_x must be (n, d) and train_y (n,), n >= 1 "
            f"(got {X_np.shape} and {y_np.shape})"
        )
    cat = sorted(set(int(c) for c in categorical_columns))
    numeric = [c for c in range(X_np.shape[1]) if c not in set(cat)]
    module = _build(X_np.shape[1], numeric, cat, categorical_groups)
    X = torch.as_tensor(X_np, dtype=torch.float64)
    y = torch.as_tensor(y_np, dtype=torch.float64)
    idx = _fit_subset(y_np, max_fit_points, np.random.default_rng(seed))
    with torch.no_grad():
        module.mean.constant.fill_(float(y_np.mean()))
    if len(idx) >= 2 and maxiter > 0:
        _fit_hyperparameters(module, X[idx], y[idx], maxiter)
    module.freeze()
    return FittedGP.from_module(module, X, y)
