"""Acquisition functions and their optimization over the encoded space.

* :func:`log_ei`: log expected improvement, numerically stable far from the
  incumbent (Ament et al., 2023), so the optimizer keeps a gradient where plain
  EI is zero to machine precision.
* :func:`log_pof`: log probability that a constraint model is non-negative.
* :func:`optimize_acquisition`: quasi-random raw samples plus perturbations of
  given anchor points (e.g. the best observations), multi-start L-BFGS-B on
  the active numeric columns of the best of them, then rounding and a greedy
  discrete local search over categorical choices and integer steps. Every
  candidate is canonical (a valid configuration of the space) and feasible under
  the space's linear constraints.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from tunehooks.optimizers.gp.encoding import SpaceEncoder

__all__ = ["AcquisitionFunction", "log_ei", "log_pof", "optimize_acquisition"]

AcquisitionFunction = Callable[[torch.Tensor], torch.Tensor]
"""Maps a ``(m, d)`` float64 tensor of features to ``(m,)`` values to maximize."""

_C1 = math.log(2 * math.pi) / 2
_C2 = math.log(math.pi / 2) / 2
_INV_SQRT_EPS = 1 / math.sqrt(torch.finfo(torch.float64).eps)


def _log_h(z: torch.Tensor) -> torch.Tensor:
    """log(phi(z) + z * Phi(z)), stable for all z."""
    big = z > -1
    z_big = torch.where(big, z, torch.zeros_like(z))
    out_big = torch.log(z_big * torch.special.ndtr(z_big) + torch.exp(-0.5 * z_big**2 - _C1))
    if bool(big.all()):
        return out_big
    # z <= -1: log(phi(z)) + log(1 - |z| sqrt(pi/2) erfcx(|z| / sqrt(2))), where the
    # argument of log(-expm1(.)) stays in (log 0.79, 0): no cancellation
    z_small = torch.where(big, -torch.ones_like(z), z)
    inner = torch.log(torch.special.erfcx(-z_small / math.sqrt(2)) * z_small.abs()) + _C2
    mid = -0.5 * z_small**2 - _C1 + torch.log(-torch.expm1(inner.clamp_max(-1e-300)))
    tail = -0.5 * z_small**2 - _C1 - 2 * torch.log(z_small.abs())
    out_small = torch.where(z_small < -_INV_SQRT_EPS, tail, mid)
    return torch.where(big, out_big, out_small)


def log_ei(mean: torch.Tensor, std: torch.Tensor, best: float) -> torch.Tensor:
    """Log expected improvement over ``best`` (larger is better) of a Gaussian posterior.

    Example:
        >>> import torch
        >>> v = log_ei(torch.tensor([0.0, -40.0], dtype=torch.float64),
        ...            torch.tensor([1.0, 1.0], dtype=torch.float64), 0.0)
        >>> bool(torch.isfinite(v).all() and v[0] > v[1])
        True
    """
    std = std.clamp_min(1e-12)
    z = (mean - best) / std
    return _log_h(z) + torch.log(std)


def log_pof(mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Log probability that a Gaussian with this posterior is >= 0 (a constraint is met)."""
    out: torch.Tensor = torch.special.log_ndtr(mean / std.clamp_min(1e-12))
    return out


def _evaluate(acq: AcquisitionFunction, X: np.ndarray, batch: int = 1024) -> np.ndarray:
    out = []
    with torch.no_grad():
        for i in range(0, len(X), batch):
            v = acq(torch.as_tensor(X[i : i + batch], dtype=torch.float64))
            out.append(v.numpy())
    vals = np.concatenate(out) if out else np.zeros(0)
    return np.where(np.isfinite(vals), vals, -np.inf)


def _perturb(
    encoder: SpaceEncoder, anchors: np.ndarray, n_each: int, rng: np.random.Generator
) -> np.ndarray:
    if len(anchors) == 0 or n_each <= 0:
        return np.zeros((0, encoder.dim))
    X = np.repeat(anchors, n_each, axis=0)
    numeric = encoder.numeric_columns
    if numeric:
        scale = rng.choice([0.02, 0.05, 0.15], size=(len(X), 1))
        X[:, numeric] += scale * rng.standard_normal((len(X), len(numeric)))
    for cols in encoder.categorical_groups:
        flip = rng.random(len(X)) < 1.0 / max(2, len(encoder.categorical_groups) + 1)
        choice = rng.integers(0, len(cols), size=len(X))
        for i in np.flatnonzero(flip):
            X[i, list(cols)] = 0.0
            X[i, cols[choice[i]]] = 1.0
    return np.asarray(encoder.canonicalize(X))


def _lbfgs(
    acq: AcquisitionFunction,
    encoder: SpaceEncoder,
    starts: np.ndarray,
    maxiter: int,
) -> np.ndarray:
    """Maximize ``acq`` from each start over its active numeric columns (others fixed)."""
    from scipy.optimize import minimize

    free = encoder.free_mask(starts)
    if not free.any() or maxiter <= 0:
        return starts
    fixed = torch.as_tensor(starts, dtype=torch.float64)
    mask = torch.as_tensor(free)
    shape = starts.shape

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        x = torch.as_tensor(theta.reshape(shape), dtype=torch.float64).requires_grad_(True)
        X = torch.where(mask, x, fixed)
        vals = acq(X)
        total = vals.clamp_min(-1e6).sum()
        (grad,) = torch.autograd.grad(total, x)
        g = grad.numpy().ravel()
        v = float(total.detach())
        if not math.isfinite(v) or not np.all(np.isfinite(g)):
            return 1e12, np.zeros_like(theta)
        return -v, -g

    lo = np.where(free, 0.0, starts).ravel()
    hi = np.where(free, 1.0, starts).ravel()
    res = minimize(
        fun,
        starts.ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(lo, hi, strict=True)),
        options={"maxiter": maxiter, "ftol": 1e-6, "gtol": 1e-4},
    )
    return np.asarray(res.x, dtype=float).reshape(shape)


def _project_feasible(
    encoder: SpaceEncoder, starts: np.ndarray, ends: np.ndarray, steps: int = 12
) -> np.ndarray:
    """For rows of ``ends`` that break a linear constraint, the furthest feasible point
    on the segment from the (feasible) start."""
    ends_c = encoder.canonicalize(ends)
    ok = encoder.feasible(ends_c)
    for i in np.flatnonzero(~ok):
        lo, hi = 0.0, 1.0
        best = starts[i]
        for _ in range(steps):
            t = 0.5 * (lo + hi)
            cand = encoder.canonicalize(starts[i] + t * (ends[i] - starts[i]))
            if encoder.feasible(cand)[0]:
                lo, best = t, cand[0]
            else:
                hi = t
        ends_c[i] = best
    return np.asarray(ends_c)


def _local_search(
    acq: AcquisitionFunction, encoder: SpaceEncoder, x: np.ndarray, value: float, rounds: int
) -> tuple[np.ndarray, float]:
    """Greedy discrete moves (other categorical choices, integer +-1) while they improve."""
    for _ in range(rounds):
        nb = encoder.neighbors(x)
        if len(nb) == 0:
            break
        nb = nb[encoder.feasible(nb)]
        if len(nb) == 0:
            break
        vals = _evaluate(acq, nb)
        j = int(np.argmax(vals))
        if not vals[j] > value:
            break
        x, value = nb[j], float(vals[j])
    return x, value


def _row_keys(X: np.ndarray) -> list[bytes]:
    return [np.round(row, 9).tobytes() for row in np.atleast_2d(X)]


def optimize_acquisition(
    acq: AcquisitionFunction,
    encoder: SpaceEncoder,
    *,
    rng: np.random.Generator,
    anchors: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    n_raw: int = 512,
    n_perturb: int = 256,
    n_restarts: int = 6,
    maxiter: int = 40,
    local_rounds: int = 3,
    min_distance: float = 0.0,
) -> np.ndarray | None:
    """The canonical, feasible point maximizing ``acq``, or ``None`` if none was found.

    Args:
        acq: the acquisition (features -> values to maximize), differentiable in torch.
        encoder: the space's encoder; candidates are rounded with it.
        rng: the source of every random choice (seed it for determinism).
        anchors: canonical points to perturb locally (e.g. the best observations).
        exclude: canonical points never to return (e.g. trials already run or pending).
        n_raw: scrambled Sobol raw samples.
        n_perturb: perturbations of the anchors, in total.
        n_restarts: L-BFGS-B starts (the best raw candidates).
        maxiter: L-BFGS-B iterations.
        local_rounds: rounds of discrete local search from the best candidates.
        min_distance: prefer the best candidate at least this far (Euclidean, in
            features) from every excluded point; when none is, the best one that is
            not excluded exactly.

    Example:
        >>> import numpy as np, torch
        >>> import tunehooks as th
        >>> enc = SpaceEncoder(th.SearchSpace({"x": th.Float(0, 1), "k": th.Int(1, 5)}))
        >>> x = optimize_acquisition(lambda X: -((X - 0.3) ** 2).sum(-1), enc,
        ...                          rng=np.random.default_rng(0))
        >>> round(float(x[0]), 2), enc.decode(x)[0]["k"]
        (0.3, 2)
    """
    from scipy.stats import qmc

    d = encoder.dim
    raw = qmc.Sobol(d=d, scramble=True, seed=rng).random(n_raw) if d else np.zeros((1, 0))
    cands = [encoder.canonicalize(raw)]
    if anchors is not None and len(anchors):
        anchors = np.atleast_2d(anchors)
        cands.append(_perturb(encoder, anchors, max(1, n_perturb // len(anchors)), rng))
    X = np.concatenate(cands)
    X = X[encoder.feasible(X)]
    excluded = set(_row_keys(exclude)) if exclude is not None and len(exclude) else set()
    if len(X) == 0:
        return None
    vals = _evaluate(acq, X)
    # starts: the best raw candidates, distinct
    order = np.argsort(-vals, kind="stable")
    starts_idx: list[int] = []
    seen: set[bytes] = set()
    for i in order:
        key = X[i].round(9).tobytes()
        if key in seen or not np.isfinite(vals[i]):
            continue
        seen.add(key)
        starts_idx.append(int(i))
        if len(starts_idx) >= n_restarts:
            break
    pool_x = [X]
    pool_v = [vals]
    if starts_idx:
        starts = X[starts_idx]
        ends = _lbfgs(acq, encoder, starts, maxiter)
        opt = _project_feasible(encoder, starts, ends)
        opt_vals = _evaluate(acq, opt)
        refined = []
        refined_v = []
        for x, v in zip(opt, opt_vals, strict=True):
            x2, v2 = _local_search(acq, encoder, x, float(v), local_rounds)
            refined.append(x2)
            refined_v.append(v2)
        pool_x.append(np.stack(refined))
        pool_v.append(np.asarray(refined_v))
    allx = np.concatenate(pool_x)
    allv = np.concatenate(pool_v)
    keys = _row_keys(allx)
    ranked = [i for i in np.argsort(-allv, kind="stable") if keys[i] not in excluded]
    if min_distance > 0 and exclude is not None and len(exclude) and ranked:
        E = np.atleast_2d(exclude)
        for start in range(0, len(ranked), 64):
            chunk = np.asarray(ranked[start : start + 64])
            d2 = ((allx[chunk, None, :] - E[None, :, :]) ** 2).sum(-1).min(axis=1)
            far = np.flatnonzero(d2 >= min_distance**2)
            if len(far):
                return np.asarray(allx[chunk[far[0]]])
    return np.asarray(allx[ranked[0]]) if ranked else None
