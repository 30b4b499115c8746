"""Multi-fidelity Bayesian optimization: one GP over (configuration, fidelity).

Every report of every trial is an observation of the objective at some
resource: an epoch-1 value of a trial ASHA stopped tells something about its
30-epoch value. The model is a GP on the configuration's features plus one
fidelity column ``s = log(r / min) / log(max / min)`` in ``[0, 1]`` (as in
MOBSTER, Klein et al. 2020, and Hyper-Tune, Li et al. 2022). A new
configuration maximizes the expected improvement at the *acquisition
fidelity* over the best value predicted there, with running trials
conditioned in as pending. The acquisition fidelity (:class:`AcquisitionFidelity`)
is full fidelity (``s = 1``), where the EI is multiplied by the chance to pass
the first rung where the scheduler judges new trials
(:meth:`~tunehooks.schedulers.Scheduler.first_rung`: ASHA, Hyperband), or, under a
scheduler that pauses trials (few of them reach full fidelity, most stop at a
rung), the highest fidelity observed at least ``acquisition_points`` times:
BOHB's rule (Falkner et al. 2018), which keeps the GP from extrapolating to a
fidelity it has hardly seen (there its uncertainty everywhere makes EI favour
any unexplored configuration). Every new trial starts at the same resource, so
EI per unit of cost ranks as EI.

With SigOpt-style discrete ``tasks`` the optimizer also picks the task: the
configuration maximizing full-fidelity EI is assigned the task with the
largest augmented EI per cost (Huang et al. 2006): ``EI(x, full) * corr(f(x, t),
f(x, full)) * (1 - noise / posterior spread at t) / cost(t)``.

The GP, the space encoder, the acquisition optimizer and the handling of
pending trials are those of :class:`~tunehooks.optimizers.gp.GPOptimizer`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tunehooks.fidelity import Fidelity
from tunehooks.metrics import Metric, Strategy, validate_metrics
from tunehooks.optimizers.base import OptimizerBase, seeded_rng
from tunehooks.optimizers.gp.acquisition import log_ei, log_pof, optimize_acquisition
from tunehooks.optimizers.gp.encoding import SpaceEncoder
from tunehooks.optimizers.gp.model import FittedGP, fit_gp
from tunehooks.optimizers.gp.optimizer import _PENDING, _PENDING_NOISE, default_n_initial
from tunehooks.optimizers.gp.threads import limited_threads
from tunehooks.optimizers.gp.transforms import robust_transform
from tunehooks.optimizers.sobol import SobolOptimizer
from tunehooks.schedulers import FirstRung, make_scheduler
from tunehooks.schedulers.model_guided import check_continue_chance
from tunehooks.space import SearchSpace
from tunehooks.trial import Suggestion, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunehooks.schedulers import Scheduler

__all__ = ["AcquisitionFidelity", "MultiFidelityOptimizer", "fidelity_observations"]


class AcquisitionFidelity(str, Enum):
    """Where the multi-fidelity optimizer judges a new configuration (its EI).

    Example:
        >>> AcquisitionFidelity("data") is AcquisitionFidelity.DATA
        True
    """

    AUTO = "auto"
    """``DATA`` under a scheduler that pauses trials, else ``FULL`` (the default)."""
    FULL = "full"
    """At full fidelity, times the chance to pass the scheduler's first rung."""
    DATA = "data"
    """At the highest fidelity observed ``acquisition_points`` times (BOHB's rule)."""


def _s(r: float, fidelity: Fidelity) -> float:
    if fidelity.max_resource <= fidelity.min_resource:
        return 1.0
    r = min(max(r, fidelity.min_resource), fidelity.max_resource)
    return math.log(r / fidelity.min_resource) / math.log(
        fidelity.max_resource / fidelity.min_resource
    )


def fidelity_observations(
    history: Sequence[TrialRecord], metric: Metric, fidelity: Fidelity
) -> tuple[list[TrialRecord], np.ndarray, np.ndarray]:
    """(trial, s, sign * value) for every usable report: at each rung level and the last.

    Trials with tasks contribute their final (last reported) value at their
    task's fidelity; other trials the first report at or past each rung level
    ``min * eta**k`` and their newest report (running trials included: a
    partial curve is an observation at a lower fidelity).
    """
    levels = fidelity.levels()
    rows: list[TrialRecord] = []
    ss: list[float] = []
    ys: list[float] = []
    for t in history:
        if t.state is TrialState.QUEUED:
            continue
        if t.state is TrialState.FAILED and not t.reports:
            rows.append(t)
            ss.append(_s(t.fidelity or fidelity.max_resource, fidelity))
            ys.append(math.nan)
            continue
        points: dict[float, float] = {}
        if fidelity.tasks is not None:
            v = t.last_reported(metric.name)
            if v is not None:
                points[t.fidelity if t.fidelity is not None else fidelity.max_resource] = v
        else:
            reps = [r for r in t.reports if metric.name in r.metrics]
            for lv in levels:
                hit = next((r for r in reps if r.step >= lv - 1e-9), None)
                if hit is not None:
                    points[float(hit.step)] = float(hit.metrics[metric.name])
            if reps:
                points[float(reps[-1].step)] = float(reps[-1].metrics[metric.name])
        for r, v in points.items():
            rows.append(t)
            ss.append(_s(r, fidelity))
            ys.append(metric.sign * v if math.isfinite(v) else math.nan)
    return rows, np.asarray(ss, dtype=float), np.asarray(ys, dtype=float)


class MultiFidelityOptimizer(OptimizerBase):
    """GP over (configuration, fidelity) from every intermediate report; EI at full fidelity.

    Used by ``method="bayes"`` when the experiment has a fidelity with a
    scheduler or tasks. Same seed and same history give the same suggestion.

    Args:
        space: the search space.
        metrics: the experiment's metrics; the model follows ``fidelity.metric``
            or the first optimized metric.
        fidelity: the experiment's fidelity settings.
        scheduler: the experiment's scheduler, asked where it first judges a new
            trial (default: the one ``fidelity`` selects).
        seed: the seed.
        n_initial: quasi-random configurations before the GP takes over.
        max_points: observations the GP conditions on (the highest fidelities
            and the best values first).
        max_fit_points: observations used to fit the hyperparameters.
        fit_maxiter: L-BFGS-B iterations of the hyperparameter fit.
        n_raw, n_restarts, acq_maxiter: the acquisition optimizer's effort.
        refit_growth: hyperparameters are refitted each time the number of
            trials grew by this factor (in between the GP is only conditioned
            on the new data).
        max_grid: a space of only integers and categoricals with at most this
            many configurations is searched exhaustively; once every one of them was
            tried (or is running), :meth:`suggest` returns ``None``: the experiment
            then resumes its paused trials, or the sweep ends, instead of training a
            known configuration again from its first epoch.
        acquisition_fidelity: where a new configuration's EI is taken
            (:class:`AcquisitionFidelity`; ``"auto"``: at the data under a pausing
            scheduler, at full fidelity otherwise).
        acquisition_points: observations a fidelity needs to be the acquisition
            fidelity under ``"data"``.
        full_nominee: under ``"data"``, also nominate the configuration with the
            largest EI at full fidelity and train it instead when the GP predicts it
            better there one standard deviation down, while the scheduler does not
            trust its first rung (:meth:`~tunehooks.schedulers.Scheduler.first_rung_trusted`
            is ``False``) and no other trial is pending. Late risers (warm-up,
            learning-rate decay) rank low at the rungs the data rule looks at.
        continue_chance: deprecated here: the model-guided scheduler's
            setting (:class:`~tunehooks.schedulers.ModelGuidedScheduler`), which
            the experiment still reads from ``optimizer_options``. Checked only.

    Example:
        >>> import tunehooks as th
        >>> from tunehooks.trial import Report
        >>> space = th.SearchSpace({"x": th.Float(0.0, 1.0)})
        >>> fid = th.Fidelity(min=1, max=9, eta=3)
        >>> opt = MultiFidelityOptimizer(space, [th.Metric("acc", "maximize")], fidelity=fid,
        ...                              n_initial=3)
        >>> history = []
        >>> for i in range(8):
        ...     x = opt.suggest(history).params["x"]
        ...     reps = tuple(Report(e, {"acc": 1 - (x - 0.7) ** 2 - 0.3 / e}) for e in (1, 3, 9))
        ...     history.append(th.TrialRecord(i, i, th.TrialState.COMPLETED, {"x": x},
        ...                                   fidelity=9, reports=reps))
        >>> abs(history[-1].params["x"] - 0.7) < 0.2
        True
    """

    def __init__(
        self,
        space: SearchSpace,
        metrics: Sequence[Metric],
        *,
        fidelity: Fidelity,
        scheduler: Scheduler | None = None,
        seed: int = 0,
        n_initial: int | None = None,
        max_points: int = 400,
        max_fit_points: int = 100,
        fit_maxiter: int = 30,
        n_raw: int = 256,
        n_restarts: int = 3,
        acq_maxiter: int = 20,
        refit_growth: float = 1.1,
        max_grid: int = 4096,
        acquisition_fidelity: AcquisitionFidelity | str = AcquisitionFidelity.AUTO,
        acquisition_points: int = 16,
        full_nominee: bool = True,
        continue_chance: float | None = None,
    ) -> None:
        super().__init__(space, validate_metrics(metrics), seed=seed)
        if not isinstance(fidelity, Fidelity):
            raise TypeError(f"fidelity: expected a Fidelity (got {type(fidelity).__name__})")
        for name, value in (
            ("max_points", max_points),
            ("max_fit_points", max_fit_points),
            ("n_raw", n_raw),
            ("n_restarts", n_restarts),
        ):
            if isinstance(value, bool) or int(value) < 1:
                raise ValueError(f"optimizer_options.{name} must be >= 1 (got {value!r})")
        if n_initial is not None and (isinstance(n_initial, bool) or int(n_initial) < 1):
            raise ValueError(f"optimizer_options.n_initial must be >= 1 (got {n_initial!r})")
        if [m for m in self.metrics if m.strategy is Strategy.CONSTRAINT]:
            raise ValueError(
                "metrics: the multi-fidelity optimizer does not model constraint metrics; "
                "use strategy='store' for them or drop the fidelity"
            )
        self.fidelity = fidelity
        self.metric = fidelity.decision_metric(self.metrics)
        self.n_initial = default_n_initial(space) if n_initial is None else int(n_initial)
        self.max_points = int(max_points)
        self.max_fit_points = int(max_fit_points)
        self.fit_maxiter = int(fit_maxiter)
        self.n_raw = int(n_raw)
        self.n_restarts = int(n_restarts)
        self.acq_maxiter = int(acq_maxiter)
        if not refit_growth > 1:
            raise ValueError(f"optimizer_options.refit_growth must be > 1 (got {refit_growth!r})")
        self.refit_growth = float(refit_growth)
        if continue_chance is not None:
            check_continue_chance(continue_chance, field="optimizer_options.continue_chance")
            warnings.warn(
                "optimizer_options.continue_chance is the model-guided scheduler's setting "
                "now (tunehooks.schedulers.ModelGuidedScheduler); the experiment still reads it",
                DeprecationWarning,
                stacklevel=2,
            )
        try:
            mode = AcquisitionFidelity(
                str(getattr(acquisition_fidelity, "value", acquisition_fidelity))
            )
        except ValueError:
            choices = ", ".join(m.value for m in AcquisitionFidelity)
            raise ValueError(
                f"optimizer_options.acquisition_fidelity: expected one of {choices} "
                f"(got {acquisition_fidelity!r})"
            ) from None
        if (
            isinstance(acquisition_points, bool)
            or not isinstance(acquisition_points, int)
            or (acquisition_points < 1)
        ):
            raise ValueError(
                f"optimizer_options.acquisition_points must be an integer >= 1 "
                f"(got {acquisition_points!r})"
            )
        self.acquisition_points = acquisition_points
        if not isinstance(full_nominee, bool):
            raise ValueError(
                f"optimizer_options.full_nominee must be true or false (got {full_nominee!r})"
            )
        self.full_nominee = full_nominee
        if scheduler is None:
            scheduler = make_scheduler(fidelity, self.metrics, seed=seed)
        self._scheduler = scheduler
        if mode is AcquisitionFidelity.AUTO:
            mode = AcquisitionFidelity.DATA if scheduler.pauses else AcquisitionFidelity.FULL
        self.acquisition_fidelity = mode
        self.first_rung: FirstRung | None = scheduler.first_rung()
        self.encoder = SpaceEncoder(space)
        self._sobol = SobolOptimizer(space, self.metrics, seed=seed)
        self._grid = _enumerate(space, self.encoder, max_grid)
        self._cache: tuple[Any, Any] | None = None
        self._last_model: tuple[tuple[Any, ...], _Model | None] | None = None

    # -- the protocol -------------------------------------------------------------------
    @limited_threads()  # a small GP: more threads only fight the training processes for cores
    def suggest(self, history: Sequence[TrialRecord]) -> Suggestion | None:
        model = self._model(history)
        if model is None:
            return self._with_task(self._sobol.suggest(history))
        at = self._acquisition_column(model.s, model.y)
        chosen = self._nominate(history, model, at)
        if chosen is None or at >= 1 - 1e-9 or not self._full_nominee_wanted(history):
            return chosen
        rival = self._nominate(history, model, 1.0)
        if rival is None or rival.params == chosen.params:
            return chosen
        return rival if self._pessimistically_better(model, rival, chosen) else chosen

    def _nominate(
        self, history: Sequence[TrialRecord], model: _Model, at: float
    ) -> Suggestion | None:
        """The configuration with the largest EI at fidelity column ``at`` (pending trials
        conditioned in), or ``None`` once a finite grid is exhausted."""
        gp, X, s, yt = model.gp, model.X, model.s, model.yt
        rng = seeded_rng(self.seed, history)
        enc = self.encoder
        configs = np.unique(X, axis=0)
        best = float(
            gp.predict_numpy(np.column_stack([configs, np.full(len(configs), at)]))[0].max()
        )
        pending = [t for t in history if t.state in _PENDING]
        Xp = enc.canonicalize(enc.encode([t.params for t in pending])) if pending else None
        if Xp is not None:
            Zp = np.column_stack([Xp, np.full(len(Xp), at)])
            gp = gp.condition(Zp, gp.predict_numpy(Zp)[0], noise=_PENDING_NOISE)

        bar = self._first_rung_bar(s, yt) if at >= 1 - 1e-9 else None

        def acq(C: torch.Tensor) -> torch.Tensor:
            ones = torch.full((len(C), 1), at, dtype=C.dtype)
            mean, std = gp.predict(torch.cat([C, ones], dim=1))
            value = log_ei(mean, std, best)
            if bar is not None:  # ... times the chance to pass the first rung
                m0, s0 = gp.predict(torch.cat([C, bar[0] * ones], dim=1))
                value = value + log_pof(m0 - bar[1], s0)
            return value

        exclude = configs if Xp is None else np.concatenate([configs, Xp])
        if self._grid is not None:
            x = _best_of(acq, self._grid, exclude)
            if x is None and self.fidelity.tasks is None:
                return None  # every configuration was tried: resume one, or the sweep is done
        else:
            top = np.argsort(-np.where(s >= 1 - 1e-9, yt, yt - 10.0), kind="stable")[:5]
            x = optimize_acquisition(
                acq,
                enc,
                rng=rng,
                anchors=X[top],
                exclude=exclude,
                n_raw=self.n_raw,
                n_restarts=self.n_restarts,
                maxiter=self.acq_maxiter,
            )
        if x is None:
            return self._with_task(Suggestion(self.space.sample(1, rng=rng)[0]))
        params = self.space.validate(enc.decode(x)[0])
        return Suggestion(params, self._task_for(gp, x, best))

    def _full_nominee_wanted(self, history: Sequence[TrialRecord]) -> bool:
        """Whether the full-fidelity rival is weighed: ``full_nominee`` on, no trial pending
        (the comparison sees no pending trial; measured, it cost epochs with four workers)
        and a scheduler that does not trust its first rung (yet)."""
        if not self.full_nominee or any(t.state in _PENDING for t in history):
            return False
        trusted = getattr(self._scheduler, "first_rung_trusted", None)
        return trusted is not None and trusted(history) is False

    def _pessimistically_better(self, model: _Model, rival: Suggestion, chosen: Suggestion) -> bool:
        """Whether the GP predicts ``rival`` better than ``chosen`` at full fidelity even one
        standard deviation down (its EI then rests on a predicted late rise, not on its
        uncertainty alone)."""
        enc = self.encoder
        X = enc.canonicalize(enc.encode([chosen.params, rival.params]))
        mean, std = model.gp.predict_numpy(np.column_stack([X, np.ones(2)]))
        low = mean - std
        return bool(low[1] > low[0])

    def _acquisition_column(self, s: np.ndarray, y: np.ndarray) -> float:
        """The fidelity column ``s`` at which a new configuration's EI is taken: 1 (full
        fidelity), or under ``DATA`` the highest one observed ``acquisition_points``
        times (the lowest observed one before any is)."""
        if self.acquisition_fidelity is not AcquisitionFidelity.DATA:
            return 1.0
        seen = np.round(s[np.isfinite(y)], 9)
        if len(seen) == 0:
            return 1.0
        levels, counts = np.unique(seen, return_counts=True)
        enough = levels[counts >= self.acquisition_points]
        return float(enough.max() if len(enough) else levels.min())

    @limited_threads()
    def chance_to_win(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> float | None:
        """The model's probability that ``trial``'s full-fidelity result beats the best one so far.

        The GP is conditioned on every report (the trial's own partial curve
        included) and judges the trial's observed value at full fidelity
        (latent spread plus noise) against the best full-fidelity value
        observed, or the best predicted one before any trial finished.
        ``None`` while the model is not fitted yet (the initial design).
        Used by :class:`~tunehooks.schedulers.ModelGuidedScheduler` to keep a
        trial that a rung rule would stop.
        """
        model = self._model(history)
        if model is None:
            return None
        enc = self.encoder
        full = np.isfinite(model.y) & (model.s >= 1 - 1e-9)
        if full.any():
            best = float(model.yt[full].max())
        else:
            configs = np.unique(model.X, axis=0)
            grid = np.column_stack([configs, np.ones(len(configs))])
            best = float(model.gp.predict_numpy(grid)[0].max())
        x = enc.canonicalize(enc.encode([trial.params]))
        mean, std = model.gp.predict_numpy(np.column_stack([x, np.ones(1)]))
        spread = math.sqrt(float(std[0]) ** 2 + model.gp.noise)
        if spread <= 0:
            return 1.0 if float(mean[0]) > best else 0.0
        return 0.5 * math.erfc((best - float(mean[0])) / (spread * math.sqrt(2.0)))

    # -- internals ----------------------------------------------------------------------
    def _model(self, history: Sequence[TrialRecord]) -> _Model | None:
        """The GP on every usable report of ``history``; None during the initial design.

        The last model is kept for the same history (a promotion asks the
        model about every paused trial of one history)."""
        key = tuple((t.id, t.state, len(t.reports), t.last_step) for t in history)
        if self._last_model is not None and self._last_model[0] == key:
            return self._last_model[1]
        model = self._fit_model(history)
        self._last_model = (key, model)
        return model

    def _fit_model(self, history: Sequence[TrialRecord]) -> _Model | None:
        rows, s, y = fidelity_observations(history, self.metric, self.fidelity)
        n_ok = int(np.isfinite(y).sum())
        if len(history) < self.n_initial or n_ok < 2 or self.encoder.dim == 0:
            return None
        enc = self.encoder
        X = enc.canonicalize(enc.encode([t.params for t in rows]))
        keep = self._subset(s, y)
        rows = [rows[i] for i in keep]
        X, s, y = X[keep], s[keep], y[keep]
        Z = np.column_stack([X, s])
        yt = robust_transform(y, compress=False)
        gp = FittedGP.from_module(self._hyperparameters(rows, Z, y, len(history)), *_t(Z, yt))
        return _Model(gp, X, s, y, yt)

    def _first_rung_bar(self, s: np.ndarray, yt: np.ndarray) -> tuple[float, float] | None:
        """(fidelity column, value) a new trial must reach at the first rung not to be
        stopped there.

        With a rung-based stop rule (ASHA, Hyperband), a configuration only
        delivers its full-fidelity value if it survives the first rung, where
        about the top ``keep`` share continue: the acquisition is EI at full
        fidelity times the probability of clearing that bar, i.e. the expected
        improvement per trial the scheduler will let finish.
        """
        rung = self.first_rung
        if rung is None:
            return None
        at = _s(rung.level, self.fidelity)
        first = yt[s <= at + 1e-9]
        if len(first) < 3:
            return None
        return at, float(np.quantile(first, 1.0 - rung.keep))

    def _checkpoint(self, n: int) -> int:
        """The largest refit point <= n: n_initial, then about 10% more trials each time."""
        k = self.n_initial
        while True:
            nxt = max(k + 1, math.ceil(k * self.refit_growth))
            if nxt > n:
                return k
            k = nxt

    def _hyperparameters(
        self, rows: Sequence[TrialRecord], Z: np.ndarray, y: np.ndarray, n_history: int
    ) -> Any:
        """The GP hyperparameters (a fitted module), refitted only at checkpoints.

        They are fitted on the finished trials numbered below the checkpoint of
        ``n_history``: a function of the history alone (so any process gets the
        same), which changes only every ~10% more trials; in between, the fit
        is reused and the GP is conditioned on all current data.
        """
        k = self._checkpoint(n_history)
        idx = [i for i, t in enumerate(rows) if t.number < k and t.state.is_finished]
        if len(idx) < 3:
            idx = list(range(len(rows)))
        Zf, yf = Z[idx], y[idx]
        key = (k, Zf.tobytes(), yf.tobytes())
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        gp = fit_gp(
            Zf,
            robust_transform(yf, compress=False),
            categorical_columns=self.encoder.categorical_columns,
            max_fit_points=self.max_fit_points,
            maxiter=self.fit_maxiter,
            seed=self.seed * 7919 + k,
        )
        self._cache = (key, gp.module)
        return gp.module

    def _subset(self, s: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Indices of at most ``max_points`` observations: highest fidelity, then best."""
        ok = np.flatnonzero(np.isfinite(y))
        bad = np.flatnonzero(~np.isfinite(y))
        if len(y) <= self.max_points:
            return np.arange(len(y))
        order = ok[np.lexsort((-y[ok], -s[ok]))]
        n_bad = min(len(bad), self.max_points // 10)
        return np.sort(np.concatenate([order[: self.max_points - n_bad], bad[:n_bad]]))

    def _with_task(self, suggestion: Suggestion | None) -> Suggestion | None:
        if suggestion is None or self.fidelity.tasks is None:
            return suggestion
        # the initial design explores on the cheapest task
        cheapest = min(self.fidelity.tasks, key=lambda t: t.cost)
        return Suggestion(suggestion.params, cheapest.cost * self.fidelity.max_resource)

    def _task_for(self, gp: FittedGP, x: np.ndarray, best: float) -> float | None:
        tasks = self.fidelity.tasks
        if tasks is None:
            return None
        z_full = np.append(x, 1.0)[None, :]
        m1, s1 = gp.predict_numpy(z_full)
        ei = float(torch.exp(log_ei(torch.tensor(m1), torch.tensor(s1), best))[0])
        var_full = float(s1[0]) ** 2
        noise = gp.noise
        scores = []
        for task in tasks:
            z = np.append(x, _s(task.cost * self.fidelity.max_resource, self.fidelity))[None, :]
            _, st = gp.predict_numpy(z)
            var_t = float(st[0]) ** 2
            # corr(f(x, t), f(x, full)) from the variance left at full after observing t
            after = gp.condition(z, gp.predict_numpy(z)[0], noise=_PENDING_NOISE)
            var_left = float(after.predict_numpy(z_full)[1][0]) ** 2
            corr = math.sqrt(max(0.0, var_full - var_left) / var_full) if var_full > 0 else 0.0
            gain = 1.0 - math.sqrt(noise) / math.sqrt(var_t + noise)
            scores.append(ei * corr * gain / task.cost)
        return tasks[int(np.argmax(scores))].cost * self.fidelity.max_resource


@dataclass(frozen=True)
class _Model:
    """The fitted GP and the observations it holds (configuration features, fidelity
    column ``s``, sign-adjusted values ``y`` and their transform ``yt``)."""

    gp: FittedGP
    X: np.ndarray
    s: np.ndarray
    y: np.ndarray
    yt: np.ndarray


def _t(Z: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.as_tensor(Z, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)


def _enumerate(space: SearchSpace, encoder: SpaceEncoder, limit: int) -> np.ndarray | None:
    """Every configuration's features when the space is small and discrete, else ``None``."""
    size = 1
    for p in space.params.values():
        n = p.cardinality()
        if n is None:  # a continuous parameter
            return None
        size *= n
        if size > limit:
            return None
    configs = list(space.grid(points=limit))
    return encoder.canonicalize(encoder.encode(configs)) if configs else None


def _best_of(acq: Any, grid: np.ndarray, exclude: np.ndarray) -> np.ndarray | None:
    taken = {row.round(9).tobytes() for row in exclude}
    free = np.array([row.round(9).tobytes() not in taken for row in grid], dtype=bool)
    if not free.any():
        return None
    cands = grid[free]
    with torch.no_grad():
        vals = acq(torch.as_tensor(cands, dtype=torch.float64)).numpy()
    vals = np.where(np.isfinite(vals), vals, -np.inf)
    return np.asarray(cands[int(np.argmax(vals))])
