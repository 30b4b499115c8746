"""The dashboard's interactive figures as Plotly figure specifications (plain dicts).

Each function turns an experiment's history into ``{"data": [...], "layout": {...}}``,
which the page hands to ``Plotly.react``. Nothing here imports Plotly: the specs are
JSON, checked by tests on their data, and the page draws them with the plotly.js that
the ``plotly`` package ships. The rules are those of the static report
(:mod:`tunehooks.analysis.figures`): log axes for log parameters, labelled ticks and
colour bars, importance with its spread and a warning on too few trials.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunehooks._format import format_number
from tunehooks.analysis._data import curve, is_eligible, pick_metric
from tunehooks.analysis.importance import (
    Importance,
    Slice,
    encode_params,
    importance_warning,
)
from tunehooks.analysis.traces import Axis, best_so_far
from tunehooks.experiment import Experiment
from tunehooks.params import Categorical, Constant
from tunehooks.trial import TrialRecord, TrialState

__all__ = [
    "STATE_COLOR",
    "best_so_far_figure",
    "importance_figure",
    "learning_curves_figure",
    "parallel_coordinates_figure",
    "pareto_figure",
    "slice_figures",
]

Spec = dict[str, Any]

STATE_COLOR = {
    TrialState.COMPLETED: "#1f77b4",
    TrialState.PRUNED: "#d62728",
    TrialState.FAILED: "#7f7f7f",
    TrialState.RUNNING: "#2ca02c",
    TrialState.QUEUED: "#bcbd22",
}


def _layout(title: str, **extra: Any) -> Spec:
    return {"title": {"text": title}, "margin": {"l": 60, "r": 30, "t": 50, "b": 50}, **extra}


def _empty(title: str, text: str) -> Spec:
    return {
        "data": [],
        "layout": _layout(
            title,
            xaxis={"visible": False},
            yaxis={"visible": False},
            annotations=[{"text": text, "showarrow": False, "font": {"size": 14}}],
        ),
    }


def best_so_far_figure(
    exp: Experiment,
    history: Sequence[TrialRecord],
    *,
    metric: str | None = None,
    axis: Axis = Axis.TRIALS,
) -> Spec:
    """Best-so-far of ``metric`` against ``axis``, every finished trial's value as a dot."""
    tr = best_so_far(exp, metric=metric, axis=axis, trials=history)
    title = f"best {tr.metric} so far ({tr.goal})"
    if not tr.x:
        return _empty(title, "no finished trial yet")
    dots_x: list[float] = []
    dots_y: list[float] = []
    dots_n: list[int] = []
    grey_x: list[float] = []
    grey_y: list[float] = []
    grey_n: list[int] = []
    for x, v, n, ok in zip(tr.x, tr.value, tr.numbers, tr.eligible, strict=True):
        if v is None or not math.isfinite(v):
            continue
        (dots_x if ok else grey_x).append(x)
        (dots_y if ok else grey_y).append(v)
        (dots_n if ok else grey_n).append(n)
    steps = [(x, b) for x, b in zip(tr.x, tr.best, strict=True) if b is not None]
    hover = "trial %{customdata}<br>%{y}<extra></extra>"
    data: list[Spec] = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": "not eligible (pruned, low fidelity, constraint)",
            "x": grey_x,
            "y": grey_y,
            "customdata": grey_n,
            "marker": {"color": "#bbbbbb", "size": 6},
            "hovertemplate": hover,
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "trial",
            "x": dots_x,
            "y": dots_y,
            "customdata": dots_n,
            "marker": {"color": "#1f77b4", "size": 7, "opacity": 0.7},
            "hovertemplate": hover,
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "best so far",
            "x": [s[0] for s in steps],
            "y": [s[1] for s in steps],
            "line": {"shape": "hv", "color": "#ff7f0e", "width": 3},
        },
    ]
    layout = _layout(
        title, xaxis={"title": {"text": axis.label}}, yaxis={"title": {"text": tr.metric}}
    )
    return {"data": data, "layout": layout}


def learning_curves_figure(
    exp: Experiment, history: Sequence[TrialRecord], *, metric: str | None = None
) -> Spec:
    """Every trial's curve, one trace per state (lines broken between trials); pruned
    trials dashed with an x where they stopped, running ones with a dot at their latest
    report, the best trial thick."""
    m = pick_metric(exp.metrics, metric)
    best = _best_number(exp, m.name, history)
    title = f"learning curves of {m.name}"
    per_state: dict[TrialState, tuple[list[Any], list[Any], list[Any]]] = {}
    ends: dict[TrialState, tuple[list[float], list[float], list[int]]] = {}
    best_curve: tuple[list[float], list[float]] | None = None
    for t in history:
        xs, ys = curve(t, m.name)
        if not xs:
            continue
        bx, by, bn = per_state.setdefault(t.state, ([], [], []))
        bx += [*xs, None]
        by += [*ys, None]
        bn += [t.number] * len(xs) + [None]
        if t.state in (TrialState.PRUNED, TrialState.RUNNING):
            ex, ey, en = ends.setdefault(t.state, ([], [], []))
            ex.append(xs[-1])
            ey.append(ys[-1])
            en.append(t.number)
        if t.number == best:
            best_curve = (xs, ys)
    if not per_state:
        return _empty(title, f"no reports of {m.name} yet")
    data: list[Spec] = []
    for state, (xs2, ys2, ns) in per_state.items():
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": state.value.lower(),
                "x": xs2,
                "y": ys2,
                "customdata": ns,
                "connectgaps": False,
                "line": {
                    "color": STATE_COLOR[state],
                    "width": 1,
                    "dash": "dash" if state is TrialState.PRUNED else "solid",
                },
                "opacity": 0.75,
                "hovertemplate": "trial %{customdata}<br>step %{x}: %{y}<extra></extra>",
            }
        )
    for state, (ex, ey, en) in ends.items():
        pruned = state is TrialState.PRUNED
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "pruned here" if pruned else "running: latest report",
                "x": ex,
                "y": ey,
                "customdata": en,
                "marker": {
                    "color": STATE_COLOR[state],
                    "symbol": "x" if pruned else "circle",
                    "size": 9 if pruned else 8,
                },
                "hovertemplate": "trial %{customdata}<br>step %{x}: %{y}<extra></extra>",
            }
        )
    if best_curve is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"best (trial {best})",
                "x": best_curve[0],
                "y": best_curve[1],
                "line": {"color": "#ff7f0e", "width": 4},
            }
        )
    resource = exp.fidelity.resource if exp.fidelity else "step"
    layout = _layout(title, xaxis={"title": {"text": resource}}, yaxis={"title": {"text": m.name}})
    return {"data": data, "layout": layout}


def _best_number(exp: Experiment, metric: str, history: Sequence[TrialRecord]) -> int | None:
    m = pick_metric(exp.metrics, metric)
    elig = [
        t
        for t in history
        if is_eligible(t, exp.metrics, exp.fidelity) and t.value(metric) is not None
    ]
    if not elig:
        return None
    return max(elig, key=lambda t: (m.sign * float(t.values[metric]), -t.number)).number


def _dimension(exp: Experiment, name: str, trials: Sequence[TrialRecord]) -> Spec:
    """One parcoords axis: log parameters in log10 with ticks at their values,
    categoricals as labelled indices, an inactive conditional value below the range."""
    p = exp.space.params[name]
    col = encode_params(exp.space, [t.params for t in trials])[:, exp_columns(exp).index(name)]
    if isinstance(p, Categorical):
        k = len(p.choices)
        values = [float(v) if v >= 0 else -1.0 for v in col]
        tickvals = [-1.0, *range(k)] if any(v < 0 for v in values) else list(range(k))
        ticktext = (["inactive"] if len(tickvals) > k else []) + [str(c) for c in p.choices]
        return {
            "label": name,
            "values": values,
            "tickvals": tickvals,
            "ticktext": ticktext,
            "range": [min(tickvals), k - 1],
        }
    log = bool(getattr(p, "log", False))
    lo, hi = float(p.decode(np.array([0.0]))), float(p.decode(np.array([1.0])))

    def scale(v: float) -> float:
        return math.log10(v) if log else v

    slo, shi = scale(lo), scale(hi)
    below = slo - 0.08 * (shi - slo or 1.0)
    values = [below if t.params.get(name) is None else scale(float(t.params[name])) for t in trials]
    if log:
        decades = range(math.floor(slo), math.ceil(shi) + 1)
        raw = [10.0**d for d in decades if slo - 1e-9 <= d <= shi + 1e-9]
        if not raw or raw[0] > lo * 1.5:
            raw = [lo, *raw]
        if raw[-1] < hi / 1.5:
            raw = [*raw, hi]
        ticks = raw
    else:
        ticks = [lo + q * (hi - lo) for q in (0.0, 0.25, 0.5, 0.75, 1.0)]
    tickvals = [scale(v) for v in ticks]
    ticktext = [format_number(v, digits=3) for v in ticks]
    if any(v == below for v in values):
        tickvals = [below, *tickvals]
        ticktext = ["inactive", *ticktext]
    return {
        "label": f"{name} (log)" if log else name,
        "values": values,
        "tickvals": tickvals,
        "ticktext": ticktext,
        "range": [min(below, slo) if tickvals[0] == below else slo, shi],
    }


def exp_columns(exp: Experiment) -> list[str]:
    """The varying (non-constant) parameters, in the space's order."""
    return [n for n, p in exp.space.params.items() if not isinstance(p, Constant)]


def parallel_coordinates_figure(
    exp: Experiment, history: Sequence[TrialRecord], *, metric: str | None = None
) -> Spec:
    """Every completed trial as a line over the parameters' axes and the metric's, coloured
    by the metric (with a colour bar); brushing an axis filters the lines."""
    m = pick_metric(exp.metrics, metric)
    title = f"parallel coordinates ({m.name})"
    done = [
        t
        for t in history
        if t.state is TrialState.COMPLETED
        and t.value(m.name) is not None
        and math.isfinite(float(t.values[m.name]))
    ]
    names = exp_columns(exp)
    if not done or not names:
        return _empty(title, "no completed trial yet")
    ys = [float(t.values[m.name]) for t in done]
    dims = [_dimension(exp, n, done) for n in names]
    dims.append({"label": m.name, "values": ys})
    line = {
        "color": ys,
        "colorscale": "Viridis",
        "reversescale": m.sign < 0,  # the best is bright either way
        "showscale": True,
        "colorbar": {"title": {"text": f"{m.name} ({m.goal.value if m.goal else ''})"}},
    }
    return {
        "data": [{"type": "parcoords", "dimensions": dims, "line": line}],
        "layout": _layout(title, margin={"l": 80, "r": 80, "t": 80, "b": 40}),
    }


def importance_figure(importances: Sequence[Importance], *, metric: str) -> Spec:
    """Bars of the importances with ± one standard deviation; ``warning`` (shown above the
    figure by the page) says when too few trials stand behind them."""
    title = f"parameter importance for {metric}"
    if not importances:
        return _empty(title, "not enough completed or pruned trials yet")
    items = list(reversed(importances))
    warning = importance_warning(importances)
    n = importances[0].n_trials
    layout = _layout(
        f"{title} ({n} trials, {importances[0].n_pruned} pruned)",
        xaxis={"title": {"text": "share of variance explained (main effect), ± 1 s.d."}},
        margin={"l": 120, "r": 30, "t": 70, "b": 50},
    )
    bar = {
        "type": "bar",
        "orientation": "h",
        "y": [i.name for i in items],
        "x": [i.value for i in items],
        "error_x": {"type": "data", "array": [i.std for i in items], "visible": True},
        "text": [
            f"{format_number(i.value, digits=2)} ± {format_number(i.std, digits=2)}" for i in items
        ],
        "textposition": "outside",
        "marker": {"color": "#1f77b4"},
    }
    return {"data": [bar], "layout": layout, "warning": warning}


def slice_figures(exp: Experiment, slices: Sequence[Slice], *, metric: str) -> list[Spec]:
    """One figure per slice: the trials' values against the parameter (a log axis for a
    log parameter, the choices for a categorical) and the forest's mean prediction."""
    out = []
    for s in slices:
        data: list[Spec] = [
            {
                "type": "scatter",
                "mode": "markers",
                "name": "trials",
                "x": [str(x) for x in s.x] if s.categorical else list(s.x),
                "y": s.y,
                "customdata": s.numbers,
                "marker": {"size": 7, "opacity": 0.7},
                "hovertemplate": "trial %{customdata}<br>%{x}: %{y}<extra></extra>",
            }
        ]
        if s.mean:
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers" if s.categorical else "lines",
                    "name": "forest mean",
                    "x": [str(g) for g in s.grid] if s.categorical else list(s.grid),
                    "y": s.mean,
                    "line": {"color": "#ff7f0e", "width": 2},
                }
            )
        xaxis: Spec = {"title": {"text": s.name}}
        if s.categorical:
            p = exp.space.params[s.name]
            choices = [str(c) for c in p.choices] if isinstance(p, Categorical) else []
            xaxis.update(type="category", categoryorder="array", categoryarray=choices)
        elif s.log:
            xaxis["type"] = "log"
        out.append(
            {
                "data": data,
                "layout": _layout(
                    f"{s.name} against {metric}", xaxis=xaxis, yaxis={"title": {"text": metric}}
                ),
                "param": s.name,
            }
        )
    return out


def pareto_figure(exp: Experiment, history: Sequence[TrialRecord]) -> Spec | None:
    """The eligible trials on the first two optimized metrics (or the optimized one and the
    first constraint), the front joined; ``None`` with fewer than two such metrics."""
    from tunehooks.analysis.pareto import pareto_front

    try:
        result = pareto_front(exp, trials=history)
    except ValueError:
        return None
    a, b = result.metrics
    title = f"Pareto front: {len(result.front)} trials"
    if not result.front:
        return _empty("Pareto front", "no eligible trial with both metrics yet")
    front = result.points(result.front)
    others = result.points(result.others)
    hover = "trial %{customdata}<br>%{x}, %{y}<extra></extra>"
    data = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": "dominated",
            "x": [p[0] for p in others],
            "y": [p[1] for p in others],
            "customdata": [t.number for t in result.others],
            "marker": {"color": "#bbbbbb", "size": 7},
            "hovertemplate": hover,
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Pareto front",
            "x": [p[0] for p in front],
            "y": [p[1] for p in front],
            "customdata": [t.number for t in result.front],
            "line": {"shape": "hv" if a.sign == b.sign else "vh", "color": "#ff7f0e"},
            "marker": {"color": "#d62728", "size": 10},
            "hovertemplate": hover,
        },
    ]
    layout = _layout(
        title,
        xaxis={"title": {"text": f"{a.name} ({a.goal.value if a.goal else ''})"}},
        yaxis={"title": {"text": f"{b.name} ({b.goal.value if b.goal else ''})"}},
    )
    return {"data": data, "layout": layout}
