"""Parameter importance: an fANOVA-style variance decomposition of a random forest.

A random forest (scikit-learn) is fitted to the COMPLETED trials and the PRUNED
ones at the fidelity they reached (their last reported value, with the step as
the fidelity column, so a trial stopped early does not count as a bad full
training): one input
column per parameter (the parameter's position in ``[0, 1]`` as the search
space encodes it, log scales included; a categorical's choice index; an
inactive conditional parameter gets ``-1``, outside the range, so the trees
can separate it), plus the fidelity when the trials differ in it. For each
tree ``f`` and parameter ``j``, the main effect is the variance over ``x_j``
of the mean prediction over the other parameters, with configurations drawn
from the search space (conditions respected) and the fidelity held at its
maximum:

    V_j = Var_{x_j} E_{x_-j}[ f(x) ]   and   importance_j = V_j / Var f(x)

A conditional parameter is evaluated where it is active, and its share is
scaled by how often it is active. Importances are averaged over the trees (a
standard deviation comes with them); they need not sum to 1, the rest being
interactions. Below :func:`reliable_trials` trials the ranking is a guess and
:func:`importance_warning` says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunehooks._extras import require
from tunehooks.analysis._data import is_full_fidelity, pick_metric
from tunehooks.experiment import Experiment
from tunehooks.params import Categorical, Constant
from tunehooks.space import SearchSpace
from tunehooks.trial import TrialRecord, TrialState

__all__ = [
    "Importance",
    "Slice",
    "encode_params",
    "importance_warning",
    "parameter_importance",
    "reliable_trials",
    "slices",
]

INACTIVE = -1.0
FIDELITY_COLUMN = "(fidelity)"


@dataclass(frozen=True)
class Importance:
    """The share of the objective's variance one parameter explains on its own.

    ``std`` is its spread over the forest's trees (each fitted to a bootstrap sample of
    the trials); ``n_trials`` the trials fitted, ``n_pruned`` of them pruned ones.

    Example:
        >>> Importance("lr", 0.7, 0.1, n_trials=30, n_pruned=6).n_trials
        30
    """

    name: str
    value: float
    std: float
    n_trials: int = 0
    n_pruned: int = 0


def reliable_trials(n_params: int) -> int:
    """Trials below which importances over ``n_params`` parameters are not to be trusted:
    20, or 4 per parameter when there are more than 5.

    Example:
        >>> reliable_trials(3), reliable_trials(10)
        (20, 40)
    """
    return max(20, 4 * n_params)


def importance_warning(importances: Sequence[Importance]) -> str | None:
    """One sentence for a reader when ``importances`` (one per parameter, as
    :func:`parameter_importance` returns them) rest on too few trials, else ``None``.

    Example:
        >>> importance_warning([Importance(n, 0.3, 0.4, n_trials=4) for n in "ab"])
        'only 4 trials: importances need about 20 for 2 parameters, so read these as guesses (see the error bars)'
    """
    if not importances:
        return None
    n_params = len(importances)
    n = importances[0].n_trials
    need = reliable_trials(n_params)
    if n >= need:
        return None
    pruned = importances[0].n_pruned
    return (
        f"only {n} trials{f' ({pruned} of them pruned)' if pruned else ''}: importances need "
        f"about {need} for {n_params} parameters, so read these as guesses (see the error bars)"
    )


def _columns(space: SearchSpace) -> list[str]:
    return [n for n, p in space.params.items() if not isinstance(p, Constant)]


def _encode_one(space: SearchSpace, name: str, config: Mapping[str, Any]) -> float:
    p = space.params[name]
    if name not in config:
        return INACTIVE
    if isinstance(p, Categorical):
        return float(p.index(config[name]))
    return float(p.encode(config[name])[0])


def encode_params(space: SearchSpace, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """One column per non-constant parameter, in ``[0, 1]`` (categoricals: choice index;
    inactive: ``-1``)."""
    cols = _columns(space)
    out = np.empty((len(configs), len(cols)))
    for i, cfg in enumerate(configs):
        for j, name in enumerate(cols):
            out[i, j] = _encode_one(space, name, cfg)
    return out


def _fitted_trials(
    trials: Sequence[TrialRecord], metric: str
) -> list[tuple[TrialRecord, float, float | None]]:
    """(trial, value, fidelity reached) of the COMPLETED trials with a final value and of
    the PRUNED ones with a reported value (at the step they reached)."""
    out: list[tuple[TrialRecord, float, float | None]] = []
    for t in trials:
        if t.state is TrialState.COMPLETED:
            v = t.value(metric)
            if v is not None and np.isfinite(v):
                step = t.fidelity if t.fidelity is not None else t.last_step
                out.append((t, float(v), None if step is None else float(step)))
        elif t.state is TrialState.PRUNED:
            v = t.last_reported(metric)
            if v is not None and np.isfinite(v) and t.last_step is not None:
                out.append((t, float(v), float(t.last_step)))
    return out


def _training_set(
    exp: Experiment, metric: str, trials: Sequence[TrialRecord]
) -> tuple[np.ndarray, np.ndarray, list[str], float | None, int]:
    fitted = _fitted_trials(trials, metric)
    X = encode_params(exp.space, [t.params for t, _, _ in fitted])
    y = np.array([v for _, v, _ in fitted])
    names = _columns(exp.space)
    n_pruned = sum(1 for t, _, _ in fitted if t.state is TrialState.PRUNED)
    if exp.fidelity is not None:
        fmax: float | None = exp.fidelity.max_resource
    else:
        fmax = max((f for _, _, f in fitted if f is not None), default=None)
    if fmax:
        fids = [fmax if f is None else min(f, fmax) for _, _, f in fitted]
        if len(set(fids)) > 1 or not all(is_full_fidelity(t, exp.fidelity) for t, _, _ in fitted):
            X = np.column_stack([X, np.array(fids) / fmax])
            names = [*names, FIDELITY_COLUMN]
            return X, y, names, fmax, n_pruned
    return X, y, names, None, n_pruned


def _fit_forest(X: np.ndarray, y: np.ndarray, seed: int, n_trees: int) -> Any:
    ensemble = require(
        "sklearn.ensemble", extra="analysis", what="parameter importance", package="scikit-learn"
    )
    forest = ensemble.RandomForestRegressor(
        n_estimators=n_trees, min_samples_leaf=1, max_features=1.0, random_state=seed, n_jobs=1
    )
    forest.fit(X, y)
    return forest


def parameter_importance(
    exp: Experiment,
    *,
    metric: str | None = None,
    trials: Sequence[TrialRecord] | None = None,
    n_trees: int = 64,
    samples: int = 128,
    seed: int = 0,
    min_trials: int = 4,
) -> list[Importance]:
    """Importance of every non-constant parameter, most important first.

    Example:
        >>> import tunehooks as th
        >>> space = th.SearchSpace({"a": th.Float(0, 1), "b": th.Float(0, 1)})
        >>> exp = th.Experiment.create("doc-imp", space, metrics=[th.Metric("y", goal="minimize")],
        ...     budget=th.Budget(trials=20), storage="sqlite://", method="sobol")
        >>> for t in exp.ask_loop():
        ...     _ = t.complete({"y": (t.params["a"] - 0.3) ** 2})
        >>> parameter_importance(exp)[0].name
        'a'
    """
    m = pick_metric(exp.metrics, metric)
    history = exp.get_trials() if trials is None else trials
    X, y, names, fmax, n_pruned = _training_set(exp, m.name, history)
    if len(y) < min_trials:
        raise ValueError(
            f"importance needs at least {min_trials} completed or pruned trials with "
            f"{m.name!r} (got {len(y)}); run more trials"
        )
    n_params = len(_columns(exp.space))
    n = len(y)
    if np.ptp(y) == 0.0:
        return [Importance(c, 0.0, 0.0, n, n_pruned) for c in names[:n_params]]
    forest = _fit_forest(X, y, seed, n_trees)
    rng = np.random.default_rng(seed)
    background = exp.space.sample(samples, rng=rng)
    B = encode_params(exp.space, background)
    if fmax is not None:
        B = np.column_stack([B, np.ones(len(B))])
    trees = forest.estimators_
    total_var = np.array([np.var(tree.predict(B)) for tree in trees])
    results = []
    for j, name in enumerate(names[:n_params]):
        active = B[:, j] != INACTIVE
        if not active.any():
            results.append(Importance(name, 0.0, 0.0, n, n_pruned))
            continue
        values = np.unique(B[active, j])
        if values.size > 32:
            values = rng.choice(values, 32, replace=False)
        rows = B[active]
        stacked = np.repeat(rows[None, :, :], values.size, axis=0)
        stacked[:, :, j] = values[:, None]
        flat = stacked.reshape(-1, B.shape[1])
        shares = []
        for tree, tv in zip(trees, total_var, strict=True):
            pred = tree.predict(flat).reshape(values.size, rows.shape[0])
            main = np.var(pred.mean(axis=1))
            shares.append(0.0 if tv <= 0 else min(1.0, main / tv) * active.mean())
        results.append(Importance(name, float(np.mean(shares)), float(np.std(shares)), n, n_pruned))
    return sorted(results, key=lambda r: -r.value)


@dataclass(frozen=True)
class Slice:
    """One parameter against the metric: the trials' points and the forest's mean prediction.

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-slice", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("y", goal="minimize")], budget=th.Budget(trials=12),
        ...     storage="sqlite://", method="random", seed=0)
        >>> for t in exp.ask_loop():
        ...     _ = t.complete({"y": (t.params["x"] - 0.3) ** 2})
        >>> s = slices(exp, params=["x"])[0]
        >>> s.name, len(s.x), s.categorical
        ('x', 12, False)
        >>> abs(s.grid[s.mean.index(min(s.mean))] - 0.3) < 0.2  # the forest's minimum
        True
    """

    name: str
    categorical: bool
    x: list[Any]
    y: list[float]
    numbers: list[int]
    grid: list[Any]
    mean: list[float]
    log: bool = False
    """The search space samples the parameter on a log scale: so should its axis."""


def slices(
    exp: Experiment,
    *,
    params: Sequence[str] | None = None,
    top: int = 3,
    metric: str | None = None,
    trials: Sequence[TrialRecord] | None = None,
    seed: int = 0,
) -> list[Slice]:
    """Slices of ``params`` (default: the ``top`` most important parameters)."""
    m = pick_metric(exp.metrics, metric)
    history = exp.get_trials() if trials is None else trials
    if params is None:
        try:
            params = [i.name for i in parameter_importance(exp, metric=m.name, trials=history)][
                :top
            ]
        except ValueError:
            params = _columns(exp.space)[:top]
    for pname in params:
        if pname not in exp.space.params:
            raise ValueError(f"params: {pname!r} is not a parameter ({exp.space.names})")
    X, y, _, fmax, _ = _training_set(exp, m.name, history)
    done = [
        t
        for t in history
        if t.state is TrialState.COMPLETED
        and t.value(m.name) is not None
        and np.isfinite(t.value(m.name) or 0.0)
    ]
    forest = _fit_forest(X, y, seed, 32) if len(y) >= 2 else None
    rng = np.random.default_rng(seed)
    B = encode_params(exp.space, exp.space.sample(64, rng=rng))
    if fmax is not None:
        B = np.column_stack([B, np.ones(len(B))])
    out = []
    cols = _columns(exp.space)
    for name in params:
        p = exp.space.params[name]
        cat = False
        pts = [
            (t.params[name], float(t.values[m.name]), t.number) for t in done if name in t.params
        ]
        if isinstance(p, Categorical):
            cat = True
            grid_values: list[Any] = list(p.choices)
        else:
            grid_values = sorted({p.decode(np.array([u])) for u in np.linspace(0.001, 0.999, 25)})
        mean: list[float] = []
        if forest is not None and name in cols and grid_values:
            j = cols.index(name)
            rows = B[B[:, j] != INACTIVE]
            if len(rows):
                for g in grid_values:
                    R = rows.copy()
                    R[:, j] = _encode_one(exp.space, name, {name: g})
                    mean.append(float(np.mean(forest.predict(R))))
        if len(mean) != len(grid_values):
            mean = []
        out.append(
            Slice(
                name,
                cat,
                [q[0] for q in pts],
                [q[1] for q in pts],
                [q[2] for q in pts],
                grid_values if mean else [],
                mean,
                log=bool(getattr(p, "log", False)),
            )
        )
    return out
