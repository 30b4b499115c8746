"""GPOptimizer: the default ``method="bayes"``.

One suggestion, from the seed and the history only (nothing is cached between
calls, so the optimizer may be re-created per ask in any process):

1. Fewer than ``n_initial`` trials, or fewer than two results: the next point of
   a scrambled Sobol sequence (as ``method="sobol"``).
2. Otherwise, with probability ``random_fraction`` (0.2, as SMAC's random
   design), a uniformly random configuration not tried yet: a model misled by a
   plateau of equal results still explores the rest of the space.
3. Otherwise the objective values (failed trials: the worst value seen; pruned
   trials: their last reported value) go through
   :func:`~tunehooks.optimizers.gp.transforms.robust_transform`, and a GP per
   objective is fitted with :func:`~tunehooks.optimizers.gp.model.fit_gp`. Each
   constraint metric gets a GP of its slack (``>= 0`` when met).
4. Pending (QUEUED / RUNNING) trials are added with the model's mean as their
   value (kriging believer): the model becomes certain there, and with several
   objectives the believed values join the front, so parallel workers receive
   distinct points.
5. log EI (one objective) or log expected hypervolume improvement over the
   feasible front (two or more:
   :class:`~tunehooks.optimizers.gp.multiobjective.LogEHVI`), plus the log
   probability that every constraint holds, is maximized by
   :func:`~tunehooks.optimizers.gp.acquisition.optimize_acquisition`. The
   thread pools are limited meanwhile (:func:`~tunehooks.optimizers.gp.threads.limited_threads`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from tunehooks.metrics import Metric, Strategy, validate_metrics
from tunehooks.optimizers.base import OptimizerBase, seeded_rng
from tunehooks.optimizers.gp.acquisition import (
    AcquisitionFunction,
    log_ei,
    log_pof,
    optimize_acquisition,
)
from tunehooks.optimizers.gp.encoding import SpaceEncoder
from tunehooks.optimizers.gp.model import FittedGP, fit_gp
from tunehooks.optimizers.gp.multiobjective import LogEHVI, pareto_rows, reference_point
from tunehooks.optimizers.gp.threads import DEFAULT_THREADS, limited_threads
from tunehooks.optimizers.gp.transforms import fill_failed, robust_transform
from tunehooks.optimizers.sobol import SobolOptimizer, sobol_points
from tunehooks.params import SpaceError
from tunehooks.space import SearchSpace
from tunehooks.trial import Suggestion, TrialRecord, TrialState

__all__ = ["GPOptimizer", "default_n_initial", "observations"]

_OBSERVED = (TrialState.COMPLETED, TrialState.PRUNED, TrialState.FAILED)
_PENDING = (TrialState.QUEUED, TrialState.RUNNING)
_PENDING_NOISE = 1e-6
_log = logging.getLogger("tunehooks")
DEFAULT_RANDOM_FRACTION = 0.2
"""Share of the model-based asks that propose a uniformly random configuration instead
(as SMAC's random design): a model misled by a plateau still explores the space."""


def _key(x: np.ndarray) -> bytes:
    return np.round(x, 9).tobytes()


def default_n_initial(space: SearchSpace) -> int:
    """Size of the Sobol initial design: the number of tuned parameters + 2, in [5, 20]."""
    n_params = sum(1 for p in space.params.values() if p.n_columns)
    return min(20, max(5, n_params + 2))


def observations(
    history: Sequence[TrialRecord], metrics: Sequence[Metric]
) -> tuple[list[TrialRecord], np.ndarray]:
    """Finished trials and their values, one column per metric, NaN where missing.

    COMPLETED trials give their final values, PRUNED ones their last reported
    values, FAILED ones NaN (they count as the worst value seen). Trials that
    finished without any value for the first metric and did not fail are left out.
    """
    rows: list[TrialRecord] = []
    vals: list[list[float]] = []
    for t in history:
        if t.state not in _OBSERVED:
            continue
        row = []
        for m in metrics:
            v = None if t.state is TrialState.FAILED else t.last_reported(m.name)
            row.append(np.nan if v is None or not np.isfinite(v) else float(v))
        if t.state is not TrialState.FAILED and np.isnan(row[0]):
            continue
        rows.append(t)
        vals.append(row)
    return rows, np.asarray(vals, dtype=float).reshape(len(rows), len(metrics))


class GPOptimizer(OptimizerBase):
    """Gaussian-process Bayesian optimization over mixed, conditional spaces.

    Args:
        space: the search space.
        metrics: the experiment's metrics (one or more optimized, any constraints).
        seed: same seed and same history give the same suggestion.
        n_initial: Sobol points before the GP takes over (default:
            :func:`default_n_initial`).
        max_fit_points: observations used to fit the hyperparameters (all are
            conditioned on).
        fit_maxiter: L-BFGS-B iterations of the hyperparameter fit.
        n_raw: raw quasi-random samples of the acquisition.
        n_restarts: L-BFGS-B starts of the acquisition optimization.
        acq_maxiter: L-BFGS-B iterations per acquisition optimization.
        min_distance: a suggestion keeps at least this distance (in features,
            the unit cube) from every trial when the acquisition allows it, so a
            plateau of equal results or a learned noise level does not make it
            re-sample the same spot.
        random_fraction: share of the model-based asks that propose a uniformly
            random configuration instead (decided from the seed and the history).
        threads: torch and BLAS threads during an ask (the caller's settings
            hold again after it; see :func:`~tunehooks.optimizers.gp.threads.limited_threads`).

    Example:
        >>> import tunehooks as th
        >>> space = th.SearchSpace({"x": th.Float(-2.0, 2.0)})
        >>> opt = GPOptimizer(space, [th.Metric("y", goal="minimize")], seed=0, n_initial=4)
        >>> history = []
        >>> for i in range(7):
        ...     x = opt.suggest(history).params["x"]
        ...     history.append(th.TrialRecord(id=i, number=i, state=th.TrialState.COMPLETED,
        ...                                   params={"x": x}, values={"y": (x - 0.5) ** 2}))
        >>> abs(history[-1].params["x"] - 0.5) < 0.3
        True
    """

    def __init__(
        self,
        space: SearchSpace,
        metrics: Sequence[Metric],
        *,
        seed: int = 0,
        n_initial: int | None = None,
        max_fit_points: int = 128,
        fit_maxiter: int = 50,
        n_raw: int = 512,
        n_restarts: int = 6,
        acq_maxiter: int = 40,
        min_distance: float = 0.01,
        threads: int = DEFAULT_THREADS,
        random_fraction: float = DEFAULT_RANDOM_FRACTION,
    ) -> None:
        super().__init__(space, validate_metrics(metrics), seed=seed)
        if n_initial is not None and (isinstance(n_initial, bool) or int(n_initial) < 1):
            raise ValueError(f"optimizer_options.n_initial must be >= 1 (got {n_initial!r})")
        for name, value in (
            ("max_fit_points", max_fit_points),
            ("n_raw", n_raw),
            ("n_restarts", n_restarts),
            ("threads", threads),
        ):
            if isinstance(value, bool) or int(value) < 1:
                raise ValueError(f"optimizer_options.{name} must be >= 1 (got {value!r})")
        self.n_initial = default_n_initial(space) if n_initial is None else int(n_initial)
        self.max_fit_points = int(max_fit_points)
        self.fit_maxiter = int(fit_maxiter)
        self.n_raw = int(n_raw)
        self.n_restarts = int(n_restarts)
        self.acq_maxiter = int(acq_maxiter)
        self.threads = int(threads)
        if not 0.0 <= float(min_distance) < 1.0:
            raise ValueError(
                f"optimizer_options.min_distance must lie in [0, 1) (got {min_distance!r})"
            )
        self.min_distance = float(min_distance)
        if not 0.0 <= float(random_fraction) < 1.0:
            raise ValueError(
                f"optimizer_options.random_fraction must lie in [0, 1) (got {random_fraction!r})"
            )
        self.random_fraction = float(random_fraction)
        self.encoder = SpaceEncoder(space)
        self.objectives = [m for m in self.metrics if m.strategy is Strategy.OPTIMIZE]
        self.constraints = [m for m in self.metrics if m.strategy is Strategy.CONSTRAINT]
        self._sobol = SobolOptimizer(space, self.metrics, seed=seed)
        # the fits of the latest finished observations, by target (see _fit)
        self._fits_of: tuple[Any, ...] | None = None
        self._fits: dict[bytes, FittedGP] = {}

    # -- the protocol -------------------------------------------------------------------
    def suggest(self, history: Sequence[TrialRecord]) -> Suggestion | None:
        rows, values = observations(history, [*self.objectives, *self.constraints])
        n_ok = int(np.isfinite(values[:, 0]).sum()) if len(rows) else 0
        if len(history) < self.n_initial or n_ok < 2 or self.encoder.dim == 0:
            return self._initial(history)
        rng = seeded_rng(self.seed, history)
        if self.random_fraction and rng.random() < self.random_fraction:
            return self._random(history, rng)
        with limited_threads(self.threads):
            x = self._propose(history, rows, values, rng)
        if x is not None:
            try:
                return Suggestion(self.space.validate(self.encoder.decode(x)[0]))
            except SpaceError as e:  # candidates are canonical and feasible: a bug if seen
                _log.warning(
                    "the GP's suggestion was rejected by the search space (%s); "
                    "a random configuration replaces it",
                    e,
                )
        return Suggestion(self.space.sample(1, rng=rng)[0])

    # -- internals ----------------------------------------------------------------------
    def _random(self, history: Sequence[TrialRecord], rng: np.random.Generator) -> Suggestion:
        """A uniformly random configuration not tried yet (when one is found quickly)."""
        seen = {
            _key(x)
            for x in self.encoder.canonicalize(self.encoder.encode([t.params for t in history]))
        }
        configs = self.space.sample(16, rng=rng)
        C = self.encoder.canonicalize(self.encoder.encode(configs))
        for cfg, x, ok in zip(configs, C, self.encoder.feasible(C), strict=True):
            if ok and _key(x) not in seen:
                return Suggestion(self.space.validate(cfg))
        return Suggestion(self.space.validate(configs[0]))

    def _initial(self, history: Sequence[TrialRecord]) -> Suggestion | None:
        """The next Sobol point whose configuration was not tried yet (else ``method="sobol"``)."""
        if self.encoder.dim:
            seen = {
                _key(self.encoder.canonicalize(self.encoder.encode([t.params]))[0]) for t in history
            }
            U = sobol_points(self.space, 64, seed=self.seed, skip=len(history))
            C = self.encoder.canonicalize(U)
            for x, ok in zip(C, self.encoder.feasible(C), strict=True):
                if ok and _key(x) not in seen:
                    return Suggestion(self.space.validate(self.encoder.decode(x)[0]))
        return self._sobol.suggest(history)

    def _objective_targets(self, values: np.ndarray) -> np.ndarray:
        """Transformed "larger is better" targets, one column per objective."""
        k = len(self.objectives)
        signed = values[:, :k] * np.array([m.sign for m in self.objectives])
        return np.column_stack([robust_transform(signed[:, i]) for i in range(k)])

    def _fit(self, X: np.ndarray, y: np.ndarray, salt: int) -> FittedGP:
        """The GP of these observations; the same observations again reuse the last fit.

        An ask that finds its snapshot stale (another worker started a trial
        meanwhile) proposes again with one more pending trial and the same finished
        ones: refitting the hyperparameters would redo the ask's costliest part for
        the same answer (up to ``max_fit_points`` observations the fit does not
        depend on the seed; past it the salt joins the key). Only the fits of the
        latest observations are kept.
        """
        xkey = (X.shape, X.tobytes())
        if self._fits_of != xkey:
            self._fits_of, self._fits = xkey, {}
        # past max_fit_points the fitting subset depends on the salt: then it is part of
        # the key, so this process answers as a fresh one would
        key = y.tobytes() + (salt.to_bytes(8, "little") if len(X) > self.max_fit_points else b"")
        gp = self._fits.get(key)
        if gp is None:
            gp = fit_gp(
                X,
                y,
                categorical_columns=self.encoder.categorical_columns,
                categorical_groups=self.encoder.categorical_groups,
                max_fit_points=self.max_fit_points,
                maxiter=self.fit_maxiter,
                seed=self.seed * 7919 + salt,
            )
            self._fits[key] = gp
        return gp

    def _propose(
        self,
        history: Sequence[TrialRecord],
        rows: list[TrialRecord],
        values: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray | None:
        enc = self.encoder
        X = enc.canonicalize(enc.encode([t.params for t in rows]))
        pending = [t for t in history if t.state in _PENDING]
        Xp = enc.canonicalize(enc.encode([t.params for t in pending])) if pending else None
        k = len(self.objectives)
        Y = self._objective_targets(values)
        gps = [self._fit(X, Y[:, 0], len(history))]
        gps += [self._fit(X, Y[:, i], len(history) + 1000 * i) for i in range(1, k)]
        failed = ~np.isfinite(values[:, 0])

        # constraints: GP of the slack (>= 0 when met), failed trials as the worst slack
        cgps: list[FittedGP] = []
        feasible = ~failed & np.isfinite(values[:, :k]).all(axis=1)
        for j, m in enumerate(self.constraints):
            raw = values[:, k + j]
            threshold = m.threshold if m.threshold is not None else 0.0
            slack = m.sign * (raw - threshold)
            feasible &= np.isfinite(slack) & (slack >= 0)
            s = fill_failed(slack)
            scale = float(np.percentile(np.abs(s), 90)) or 1.0
            s = np.clip(s / scale, -5.0, 5.0)
            cgps.append(self._fit(X, s, len(history) + 1 + j))

        front = Y[feasible]
        if Xp is not None:
            believed = [gp.predict_numpy(Xp)[0] for gp in gps]
            gps = [
                gp.condition(Xp, b, noise=_PENDING_NOISE)
                for gp, b in zip(gps, believed, strict=True)
            ]
            cgps = [c.condition(Xp, c.predict_numpy(Xp)[0], noise=_PENDING_NOISE) for c in cgps]
            if k > 1 and len(front):  # pending trials count as reached: spread the batch
                front = np.concatenate([front, np.column_stack(believed)])

        objective = self._acquisition(gps, Y, front, rng) if len(front) else None

        def acq(Z: torch.Tensor) -> torch.Tensor:
            val = torch.zeros(len(Z), dtype=torch.float64) if objective is None else objective(Z)
            for c in cgps:
                cm, cs = c.predict(Z)
                val = val + log_pof(cm, cs)
            return val

        anchors = X[self._anchor_rows(Y, feasible, rng)]
        exclude = X if Xp is None else np.concatenate([X, Xp])
        x = None
        for excluded in (exclude, None):  # None: every configuration was tried already
            x = optimize_acquisition(
                acq,
                enc,
                rng=rng,
                anchors=anchors,
                exclude=excluded,
                n_raw=self.n_raw,
                n_restarts=self.n_restarts,
                maxiter=self.acq_maxiter,
                min_distance=self.min_distance,
            )
            if x is not None:
                break
        return x

    def _acquisition(
        self,
        gps: list[FittedGP],
        Y: np.ndarray,
        front: np.ndarray,
        rng: np.random.Generator,
    ) -> AcquisitionFunction:
        """log EI over the best feasible value (one objective), else log EHVI over the front."""
        if len(gps) > 1:
            return LogEHVI(gps, front, reference_point(Y), rng=rng)
        gp, best = gps[0], float(front[:, 0].max())

        def ei(Z: torch.Tensor) -> torch.Tensor:
            mean, std = gp.predict(Z)
            return log_ei(mean, std, best)

        return ei

    @staticmethod
    def _anchor_rows(Y: np.ndarray, feasible: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Up to five observations to perturb: the best ones, or points of the front."""
        if not feasible.any():
            return np.arange(min(5, len(Y)))
        rows = np.flatnonzero(feasible)
        if Y.shape[1] == 1:
            return rows[np.argsort(-Y[rows, 0], kind="stable")[:5]]
        on_front = rows[pareto_rows(Y[rows])]
        return rng.permutation(on_front)[:5]
