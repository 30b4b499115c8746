"""Expected hypervolume improvement for two or more objectives, by Monte Carlo.

The hypervolume of a set ``P`` (maximized objectives, reference point ``r``)
is an expectation over random directions ``w`` on the positive unit sphere
(Zhang & Golovin, 2020, "Random hypervolume scalarizations"):

    HV(P) = c_k E_w[ max_{p in P} s_w(p) ],   s_w(y) = min_i (max(0, y_i - r_i) / w_i)^k

so the improvement a new point ``y`` brings is ``c_k E_w[max(0, s_w(y) - max_p
s_w(p))]``: no box decomposition, any ``k``, differentiable in ``y``.
:class:`LogEHVI` averages it over fixed directions and fixed normal draws of
independent GP posteriors (one per objective, reparametrized), so the
acquisition is a smooth torch function that
:func:`~tunehooks.optimizers.gp.acquisition.optimize_acquisition` maximizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from tunehooks.optimizers.gp.model import FittedGP

__all__ = ["LogEHVI", "hypervolume_directions", "pareto_rows", "reference_point"]

_TINY = 1e-30


def hypervolume_directions(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random directions on the positive part of the unit sphere in ``k`` dimensions.

    Example:
        >>> W = hypervolume_directions(3, 5, np.random.default_rng(0))
        >>> W.shape, bool(np.allclose(np.linalg.norm(W, axis=1), 1.0) and (W > 0).all())
        ((5, 3), True)
    """
    W = np.abs(rng.standard_normal((n, k))) + 1e-9
    return np.asarray(W / np.linalg.norm(W, axis=1, keepdims=True))


def pareto_rows(Y: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``Y`` (maximized) that no other row dominates.

    Example:
        >>> pareto_rows(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])).tolist()
        [0, 1]
    """
    Y = np.atleast_2d(Y)
    ge = (Y[:, None, :] >= Y[None, :, :]).all(-1)
    gt = (Y[:, None, :] > Y[None, :, :]).any(-1)
    dominated = (ge & gt).any(axis=0)
    return np.flatnonzero(~dominated)


def reference_point(Y: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """Below the worst observed value of each (maximized) objective by ``margin`` of its range."""
    Y = np.atleast_2d(Y)
    lo, hi = Y.min(axis=0), Y.max(axis=0)
    return np.asarray(lo - margin * np.where(hi > lo, hi - lo, 1.0))


def _scalarize(Y: torch.Tensor, ref: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """``s_w(y)`` for rows ``y`` of ``Y`` (..., k) and every direction of ``W`` (n, k)
    -> (..., n)."""
    k = Y.shape[-1]
    gain = (Y - ref).clamp_min(0.0)
    ratio = gain.unsqueeze(-2) / W  # (..., n, k)
    out: torch.Tensor = ratio.min(dim=-1).values ** k
    return out


class LogEHVI:
    """log of the Monte-Carlo expected hypervolume improvement over ``front``.

    Args:
        gps: one fitted GP per objective (larger is better).
        front: the points already reached, ``(n, k)`` in the GPs' target units
            (observed feasible values, plus believed values of pending trials).
        ref: the reference point, ``(k,)`` (e.g. :func:`reference_point`).
        rng: draws the fixed normal samples and directions.
        n_samples: posterior draws per candidate (fixed: common random numbers).
        n_directions: random directions of the hypervolume scalarization.

    Calling it on a ``(m, d)`` float64 tensor of features gives ``(m,)`` values,
    differentiable with torch autograd.

    Example:
        >>> import numpy as np, torch
        >>> from tunehooks.optimizers.gp import fit_gp
        >>> X = np.linspace(0, 1, 6)[:, None]
        >>> Y = np.column_stack([X[:, 0], (1 - X[:, 0]) ** 2])
        >>> gps = [fit_gp(X, Y[:, 0]), fit_gp(X, Y[:, 1])]
        >>> acq = LogEHVI(gps, Y, reference_point(Y), rng=np.random.default_rng(0))
        >>> v = acq(torch.tensor([[0.5], [0.1], [1.0]], dtype=torch.float64))
        >>> v.shape, bool(torch.isfinite(v).all())
        (torch.Size([3]), True)
    """

    def __init__(
        self,
        gps: Sequence[FittedGP],
        front: np.ndarray,
        ref: np.ndarray,
        *,
        rng: np.random.Generator,
        n_samples: int = 16,
        n_directions: int = 64,
    ) -> None:
        self.gps = list(gps)
        k = len(self.gps)
        self.eps = torch.as_tensor(rng.standard_normal((n_samples, k)), dtype=torch.float64)
        self.W = torch.as_tensor(hypervolume_directions(k, n_directions, rng), dtype=torch.float64)
        self.ref = torch.as_tensor(ref, dtype=torch.float64)
        P = torch.as_tensor(np.atleast_2d(front), dtype=torch.float64).reshape(-1, k)
        zeros = torch.zeros(n_directions, dtype=torch.float64)
        self.best = _scalarize(P, self.ref, self.W).max(dim=0).values if len(P) else zeros
        self.c_k = math.pi ** (k / 2) / (2**k * math.gamma(k / 2 + 1))

    def __call__(self, Z: torch.Tensor) -> torch.Tensor:
        stats = [gp.predict(Z) for gp in self.gps]
        mean = torch.stack([m for m, _ in stats], dim=-1)  # (m, k)
        std = torch.stack([s for _, s in stats], dim=-1)
        Y = mean.unsqueeze(1) + std.unsqueeze(1) * self.eps  # (m, S, k)
        gain = (_scalarize(Y, self.ref, self.W) - self.best).clamp_min(0.0).mean(dim=(1, 2))
        out: torch.Tensor = torch.log(self.c_k * gain + _TINY)
        return out
