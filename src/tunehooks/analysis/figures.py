"""Matplotlib figures of an experiment, for notebooks and the HTML report.

Every function returns a :class:`matplotlib.figure.Figure` built without
``pyplot`` (no global state, no GUI backend: it renders with Agg), which a
notebook displays as is and :func:`to_png` turns into bytes. matplotlib is
imported when a figure is first made.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunehooks._extras import require
from tunehooks._format import format_number
from tunehooks.analysis._data import curve, is_eligible, pick_metric
from tunehooks.analysis.importance import Importance, Slice, encode_params
from tunehooks.analysis.pareto import ParetoResult
from tunehooks.analysis.traces import Axis, CompareBand, Trace, best_so_far
from tunehooks.experiment import Experiment
from tunehooks.params import Categorical
from tunehooks.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "compare_figure",
    "importance_figure",
    "learning_curves_figure",
    "parallel_coordinates_figure",
    "pareto_figure",
    "slices_figure",
    "to_png",
    "to_svg",
    "trace_figure",
]

_STATE_COLOR = {
    TrialState.COMPLETED: "#1f77b4",
    TrialState.PRUNED: "#d62728",
    TrialState.FAILED: "#7f7f7f",
    TrialState.RUNNING: "#2ca02c",
    TrialState.QUEUED: "#bcbd22",
}


def _figure(width: float, height: float) -> Figure:
    figure = require("matplotlib.figure", extra="analysis", what="a figure")
    return figure.Figure(  # type: ignore[no-any-return]
        figsize=(width, height), layout="constrained", dpi=100
    )


def to_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (rendered by Agg)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def to_svg(fig: Figure) -> str:
    """The figure as an SVG document."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    return buf.getvalue()


def _eligible_of(tr: Trace) -> list[bool]:
    return [e for v, e in zip(tr.value, tr.eligible, strict=True) if v is not None]


def _legend(ax: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def _xs(pts: Sequence[Sequence[Any]]) -> list[float]:
    return [p[0] for p in pts]


def _ys(pts: Sequence[Sequence[Any]]) -> list[float]:
    return [p[1] for p in pts]


def _empty(fig: Figure, ax: Any, text: str) -> Figure:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#555")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def trace_figure(
    exp: Experiment,
    *,
    metric: str | None = None,
    axes: Sequence[Axis | str] | None = None,
    trials: Sequence[TrialRecord] | None = None,
    gpus_per_trial: float | None = None,
) -> Figure:
    """Best-so-far against each of ``axes`` (default: trials, epochs and GPU-hours when
    ``gpus_per_trial`` is given, else trial-hours; epochs fall back to full-training cost
    when the trials reported no steps); every finished trial's own value as a dot.

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-fig", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("y", goal="minimize")], budget=th.Budget(trials=3),
        ...     storage="sqlite://", method="random")
        >>> for t in exp.ask_loop():
        ...     _ = t.complete({"y": t.params["x"]})
        >>> len(trace_figure(exp).axes)
        3
    """
    history = exp.get_trials() if trials is None else trials
    if axes is None:
        axes = (Axis.TRIALS, Axis.EPOCHS, Axis.GPU_HOURS if gpus_per_trial else Axis.HOURS)
    traces = [
        best_so_far(exp, metric=metric, axis=a, trials=history, gpus_per_trial=gpus_per_trial)
        for a in axes
    ]
    traces = [
        best_so_far(exp, metric=metric, axis=Axis.COST, trials=history)
        if tr.axis is Axis.EPOCHS and (not tr.x or tr.x[-1] == 0)
        else tr
        for tr in traces
    ]
    fig = _figure(4.2 * len(traces), 3.4)
    axs = fig.subplots(1, len(traces), squeeze=False)[0]
    for ax, tr in zip(axs, traces, strict=True):
        pts = [(x, v) for x, v in zip(tr.x, tr.value, strict=True) if v is not None]
        ok = [(x, v) for (x, v), e in zip(pts, _eligible_of(tr), strict=True) if e]
        bad = [p for p in pts if p not in ok]
        if bad:
            ax.scatter(_xs(bad), _ys(bad), s=12, color="#bbbbbb", label="not eligible")
        if ok:
            ax.scatter(_xs(ok), _ys(ok), s=14, color="#1f77b4", alpha=0.6, label="trial")
        steps = [(x, b) for x, b in zip(tr.x, tr.best, strict=True) if b is not None]
        if steps:
            ax.step(
                _xs(steps), _ys(steps), where="post", color="#ff7f0e", lw=2, label="best so far"
            )
        ax.set_xlabel(tr.axis.label)
        ax.set_ylabel(tr.metric)
        ax.grid(alpha=0.3)
        if not pts:
            _empty(fig, ax, "no finished trial yet")
    _legend(axs[0])
    fig.suptitle(f"{exp.name}: best {traces[0].metric} so far ({traces[0].goal})")
    return fig


def learning_curves_figure(
    exp: Experiment, *, metric: str | None = None, trials: Sequence[TrialRecord] | None = None
) -> Figure:
    """Every trial's reported curve; pruned trials dashed red and marked with an x where they
    stopped, failed ones grey, running ones green with a dot at their latest report, the best
    one thick."""
    m = pick_metric(exp.metrics, metric)
    history = exp.get_trials() if trials is None else trials
    fig = _figure(7.5, 4.2)
    ax = fig.subplots()
    best = _best_number(exp, m.name, history)
    drawn = set()
    for t in history:
        xs, ys = curve(t, m.name)
        if not xs:
            continue
        color = _STATE_COLOR[t.state]
        style = "--" if t.state is TrialState.PRUNED else "-"
        label = None if t.state in drawn else t.state.value.lower()
        drawn.add(t.state)
        lw = 2.8 if t.number == best else 1.0
        marker = "." if len(xs) == 1 else None  # a one-report curve is a point, not nothing
        ax.plot(xs, ys, style, color=color, lw=lw, alpha=0.75, label=label, marker=marker)
        if t.state is TrialState.PRUNED:
            ax.plot(xs[-1], ys[-1], "x", color=color, ms=7, mew=2)
        elif t.state is TrialState.RUNNING:
            ax.plot(xs[-1], ys[-1], "o", color=color, ms=5)  # still training: where it is now
    if not drawn:
        return _empty(fig, ax, f"no reports of {m.name} yet")
    ax.set_xlabel(exp.fidelity.resource if exp.fidelity else "step")
    ax.set_ylabel(m.name)
    ax.grid(alpha=0.3)
    _legend(ax)
    ax.set_title(f"learning curves ({sum(1 for t in history if t.reports)} trials)")
    return fig


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


def parallel_coordinates_figure(
    exp: Experiment,
    *,
    metric: str | None = None,
    top: int = 10,
    trials: Sequence[TrialRecord] | None = None,
) -> Figure:
    """Parameters as vertical axes, scaled as the search space encodes them (log
    parameters on a log scale) and labelled with their values; the ``top`` best eligible
    trials coloured by ``metric`` (the colour bar gives the scale), the other completed
    trials grey; the last axis is the metric itself."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    m = pick_metric(exp.metrics, metric)
    history = exp.get_trials() if trials is None else trials
    done = [t for t in history if t.state is TrialState.COMPLETED and t.value(m.name) is not None]
    ranked = sorted(
        (t for t in done if is_eligible(t, exp.metrics, exp.fidelity)),
        key=lambda t: -m.sign * float(t.values[m.name]),
    )
    best = ranked[:top]
    names = [n for n in exp.space.names if n in _varying(exp)]
    fig = _figure(max(6.0, 1.4 * (len(names) + 1)) + 1.0, 4.4)
    ax = fig.subplots()
    if not best or not names:
        return _empty(fig, ax, "no completed trial yet")

    def row(t: TrialRecord) -> list[float]:
        enc = encode_params(exp.space, [t.params])[0]  # one column per varying parameter
        return [_norm_col(exp, n, float(v)) for n, v in zip(names, enc, strict=True)]

    vals = [float(t.values[m.name]) for t in best]
    lo, hi = min(vals), max(vals)
    cmap = colormaps["viridis" if m.sign > 0 else "viridis_r"]
    norm = Normalize(lo, hi if hi > lo else lo + 1e-12)
    xs = list(range(len(names) + 1))
    ys_all = [float(t.values[m.name]) for t in done]
    ylo, yhi = min(ys_all), max(ys_all)
    span = (yhi - ylo) or 1.0
    chosen = {t.number for t in best}
    for t in done:
        if t.number in chosen:
            continue
        ax.plot(xs, [*row(t), (float(t.values[m.name]) - ylo) / span], color="#cccccc", lw=0.8)
    for t in reversed(best):
        v = float(t.values[m.name])
        ax.plot(xs, [*row(t), (v - ylo) / span], color=cmap(norm(v)), lw=2, alpha=0.9)
    for x in xs:
        ax.axvline(x, color="#444", lw=0.8)
    ax.set_xticks(xs, [*names, m.name], rotation=20)
    ax.set_ylim(-0.15, 1.05)
    ax.set_yticks([])
    for x, n in enumerate(names):
        for pos, label in axis_ticks(exp, n):
            ax.plot([x - 0.03, x], [pos, pos], color="#444", lw=0.8)
            ax.text(x + 0.04, pos, label, fontsize=7, va="center")
    for q in (0.0, 0.5, 1.0):
        ax.plot([len(names) - 0.03, len(names)], [q, q], color="#444", lw=0.8)
        ax.text(len(names) + 0.04, q, format_number(ylo + q * span), fontsize=7, va="center")
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02)
    bar.set_label(f"{m.name} of the best {len(best)} ({m.goal.value if m.goal else ''})")
    ax.set_title(
        f"best {len(best)} trials by {m.name} (grey: other completed trials; below 0: inactive)"
    )
    return fig


def axis_ticks(exp: Experiment, name: str, n: int = 5) -> list[tuple[float, str]]:
    """(position in ``[0, 1]``, label) of the ticks of parameter ``name``'s axis, positions
    as the search space encodes the parameter (log scales included)."""
    import numpy as np

    p = exp.space.params[name]
    if isinstance(p, Categorical):
        k = len(p.choices)
        return [(i / max(1, k - 1), str(c)) for i, c in enumerate(p.choices)]
    out: list[tuple[float, str]] = []
    seen: set[str] = set()
    for u in np.linspace(0.0, 1.0, n):
        value = p.decode(np.array([min(max(u, 0.0), 1.0)]))
        label = format_number(value, digits=3)
        if label in seen:
            continue
        seen.add(label)
        out.append((float(p.encode(value)[0]), label))
    return out


def _varying(exp: Experiment) -> set[str]:
    from tunehooks.params import Constant

    return {n for n, p in exp.space.params.items() if not isinstance(p, Constant)}


def _norm_col(exp: Experiment, name: str, v: float) -> float:
    if v < 0:
        return -0.1  # inactive
    p = exp.space.params[name]
    if isinstance(p, Categorical):
        return v / max(1, len(p.choices) - 1)
    return v


def importance_figure(
    importances: Sequence[Importance], *, metric: str = "", warning: str | None = None
) -> Figure:
    """Horizontal bars of the importances with their uncertainty (the spread over the
    forest's trees, one standard deviation), each labelled ``value ± std``; ``warning``
    (see :func:`~tunehooks.analysis.importance_warning`) is printed on the figure."""
    fig = _figure(6.5, 0.45 * max(3, len(importances)) + 1.4)
    ax = fig.subplots()
    if not importances:
        return _empty(fig, ax, warning or "not enough trials")
    items = list(reversed(importances))
    ax.barh(
        [i.name for i in items],
        [i.value for i in items],
        xerr=[i.std for i in items],
        color="#1f77b4",
        ecolor="#555",
        capsize=3,
    )
    right = max(1e-9, max(i.value + i.std for i in items))
    for k, i in enumerate(items):
        ax.text(
            i.value + i.std + right * 0.02,
            k,
            f"{format_number(i.value, digits=2)} ± {format_number(i.std, digits=2)}",
            va="center",
            fontsize=8,
        )
    ax.set_xlabel("share of variance explained (main effect); bars: ± 1 s.d. over the trees")
    ax.set_xlim(0, right * 1.35)
    n = items[0].n_trials
    title = f"parameter importance{' for ' + metric if metric else ''}"
    ax.set_title(title + (f" ({n} trials)" if n else ""))
    if warning:
        ax.text(
            0.5,
            1.0,
            "⚠ " + warning,
            transform=ax.transAxes,
            ha="center",
            va="bottom",
            color="#b00",
            fontsize=8,
            wrap=True,
        )
        ax.set_title(title + (f" ({n} trials)" if n else ""), pad=22)
    ax.grid(axis="x", alpha=0.3)
    return fig


def slices_figure(slices: Sequence[Slice], *, metric: str = "") -> Figure:
    """One panel per parameter: the trials' values and the forest's mean prediction."""
    n = max(1, len(slices))
    fig = _figure(3.8 * n, 3.4)
    axs = fig.subplots(1, n, squeeze=False)[0]
    if not slices:
        return _empty(fig, axs[0], "no parameter to slice")
    for ax, s in zip(axs, slices, strict=False):
        if s.categorical:
            labels = [str(g) for g in s.grid] if s.grid else sorted({str(x) for x in s.x})
            pos = {lab: i for i, lab in enumerate(labels)}
            ax.scatter([pos.get(str(x), -1) for x in s.x], s.y, s=14, alpha=0.6)
            if s.mean:
                ax.plot(range(len(s.mean)), s.mean, "o-", color="#ff7f0e", label="forest mean")
            ax.set_xticks(range(len(labels)), labels)
        else:
            ax.scatter(s.x, s.y, s=14, alpha=0.6, label="trials")
            if s.mean:
                ax.plot(s.grid, s.mean, color="#ff7f0e", lw=2, label="forest mean")
            if s.log:
                ax.set_xscale("log")  # as the search space samples it
        ax.set_xlabel(s.name)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    _legend(axs[0])
    fig.suptitle("slices of the most important parameters")
    return fig


def pareto_figure(result: ParetoResult) -> Figure:
    """The eligible trials on two metrics, the non-dominated ones joined by a step line.

    With more than two metrics: the first two, the front's trials in red unjoined
    (a projection of a front of more metrics is no step line)."""
    a, b = result.metrics[:2]
    projected = len(result.metrics) > 2
    fig = _figure(6.0, 4.5)
    ax = fig.subplots()
    if not result.front:
        return _empty(fig, ax, "no eligible trial with both metrics yet")
    if result.others:
        ax.scatter(
            _xs(result.points(result.others)),
            _ys(result.points(result.others)),
            s=14,
            color="#bbbbbb",
            label="dominated",
        )
    front = result.points(result.front)
    if not projected:
        ax.step(
            _xs(front),
            _ys(front),
            where="post" if a.sign == b.sign else "pre",
            color="#ff7f0e",
            lw=1.5,
        )
    ax.scatter(_xs(front), _ys(front), s=30, color="#d62728", zorder=3, label="Pareto front")
    for t, (x, y, *_) in zip(result.front, front, strict=True):
        ax.annotate(str(t.number), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(f"{a.name} ({a.goal.value if a.goal else ''})")
    ax.set_ylabel(f"{b.name} ({b.goal.value if b.goal else ''})")
    ax.grid(alpha=0.3)
    _legend(ax)
    rest = f" of {', '.join(m.name for m in result.metrics)}" if projected else ""
    ax.set_title(f"Pareto front{rest}: {len(result.front)} trials")
    return fig


def compare_figure(bands: Sequence[CompareBand], *, title: str = "") -> Figure:
    """Median best-so-far and its interquartile range for each group of repeated runs."""
    fig = _figure(7.0, 4.5)
    ax = fig.subplots()
    if not bands:
        return _empty(fig, ax, "nothing to compare")
    for band in bands:
        ok = [i for i, c in enumerate(band.n) if c > 0 and math.isfinite(band.median[i])]
        if not ok:
            continue
        xs = [band.x[i] for i in ok]
        (line,) = ax.step(
            xs,
            [band.median[i] for i in ok],
            where="post",
            lw=2,
            label=f"{band.label} (median of {band.runs})",
        )
        ax.fill_between(
            xs,
            [band.q25[i] for i in ok],
            [band.q75[i] for i in ok],
            step="post",
            alpha=0.25,
            color=line.get_color(),
        )
    ax.set_xlabel(bands[0].axis.label)
    ax.set_ylabel(f"best {bands[0].metric} so far")
    ax.grid(alpha=0.3)
    _legend(ax)
    ax.set_title(title or "best so far: median and interquartile range over runs")
    return fig
