"""One self-contained HTML report: figures embedded as base64 PNG, no network needed."""

from __future__ import annotations

import base64
import html
import json
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tunehooks.analysis._data import is_eligible, pick_metric
from tunehooks.analysis.costs import cost_table
from tunehooks.analysis.figures import (
    compare_figure,
    importance_figure,
    learning_curves_figure,
    parallel_coordinates_figure,
    pareto_figure,
    slices_figure,
    to_png,
    trace_figure,
)
from tunehooks.analysis.importance import importance_warning, parameter_importance, slices
from tunehooks.analysis.pareto import pareto_front
from tunehooks.analysis.traces import CompareBand
from tunehooks.experiment import Experiment
from tunehooks.metrics import Strategy
from tunehooks.trial import TrialRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["compare_html", "report_html", "write_report"]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
figure{margin:1em 0} figure img{max-width:100%;height:auto;border:1px solid #eee}
table{border-collapse:collapse;font-size:.9em} td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f5f5f5} .muted{color:#666} code{background:#f5f5f5;padding:0 .2em}
.warning{color:#8a1c00;background:#fff4e5;border-left:4px solid #e07b00;padding:.4em .8em}
"""


def _img(fig: Figure, key: str, alt: str) -> str:
    data = base64.b64encode(to_png(fig)).decode("ascii")
    fig.clear()
    return (
        f'<figure id="fig-{key}" data-figure="{key}">'
        f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'
    )


def _table(rows: Sequence[Sequence[object]], header: Sequence[str], *, key: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f'<table id="table-{key}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return json.dumps(v, default=str)
    return "" if v is None else str(v)


def _page(title: str, sections: Sequence[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def report_html(
    exp: Experiment,
    *,
    metric: str | None = None,
    top: int = 10,
    point: float = 0.01,
    gpus_per_trial: float | None = None,
) -> str:
    """The report of ``exp`` as one HTML document (see :func:`write_report`)."""
    m = pick_metric(exp.metrics, metric)
    history = exp.get_trials()
    s: list[str] = []
    goals = ", ".join(
        f"{x.name} ({x.strategy.value}{', ' + x.goal.value if x.goal else ''}"
        f"{f', threshold {x.threshold:g}' if x.threshold is not None else ''})"
        for x in exp.metrics
    )
    s.append(
        f"<h1>tunehooks report: {html.escape(exp.name)}</h1>"
        f'<p class="muted">method {html.escape(exp.method.value)} · metrics {html.escape(goals)}'
        f" · {len(history)} trials · written {time.strftime('%Y-%m-%d %H:%M:%S')}</p>"
    )
    if len(exp.objectives) > 1:
        s.append(
            f"<p>Two optimized metrics: the traces, curves, importance and slices follow "
            f"<code>{html.escape(m.name)}</code> (another with <code>--metric</code>); the Pareto "
            "front at the end shows both.</p>"
        )
    table = cost_table(
        exp, metric=m.name, point=point, trials=history, gpus_per_trial=gpus_per_trial
    )
    s.append("<h2>Cost</h2>" + _table(table.rows(), ["", "value"], key="cost"))
    best = _top_trials(exp, m.name, history, top)
    if best:
        names = [n for n in exp.space.names]
        rows = [
            [
                t.number,
                *(t.params.get(n, "—") for n in names),
                *(t.values.get(x.name) for x in exp.metrics),
            ]
            for t in best
        ]
        s.append(
            f"<h2>Best {len(best)} trials by {html.escape(m.name)}</h2>"
            + _table(rows, ["#", *names, *(x.name for x in exp.metrics)], key="best")
        )
    s.append("<h2>Best so far</h2>")
    s.append(
        _img(
            trace_figure(exp, metric=m.name, trials=history, gpus_per_trial=gpus_per_trial),
            "trace",
            "best-so-far trace",
        )
    )
    s.append("<h2>Learning curves</h2>")
    s.append(
        _img(
            learning_curves_figure(exp, metric=m.name, trials=history), "curves", "learning curves"
        )
    )
    s.append("<h2>Parallel coordinates</h2>")
    s.append(
        _img(
            parallel_coordinates_figure(exp, metric=m.name, top=top, trials=history),
            "parallel",
            "parallel coordinates of the best trials",
        )
    )
    s.append("<h2>Parameter importance</h2>")
    try:
        imps = parameter_importance(exp, metric=m.name, trials=history)
    except ValueError as e:
        imps = []
        s.append(f'<p class="warning" id="importance-warning">{html.escape(str(e))}</p>')
    warning = importance_warning(imps)
    if warning:
        s.append(f'<p class="warning" id="importance-warning">⚠ {html.escape(warning)}</p>')
    if imps:
        n, pruned = imps[0].n_trials, imps[0].n_pruned
        s.append(
            f'<p class="muted">A random forest of {n} trials ({n - pruned} completed, {pruned} '
            f"pruned ones at the step they reached); the share of the variance of "
            f"{html.escape(m.name)} each parameter explains on its own, ± one standard "
            "deviation over the forest's trees.</p>"
        )
    s.append(
        _img(
            importance_figure(imps, metric=m.name, warning=warning),
            "importance",
            "parameter importance",
        )
    )
    top_params = [i.name for i in imps if i.name in exp.space.params][:3] or None
    sl = slices(exp, params=top_params, metric=m.name, trials=history)
    s.append("<h2>Slices</h2>")
    s.append(_img(slices_figure(sl, metric=m.name), "slices", "slices of the top parameters"))
    with_goal = [x for x in exp.metrics if x.strategy is not Strategy.STORE]
    if len(with_goal) >= 2:
        s.append("<h2>Pareto front</h2>")
        s.append(_img(pareto_figure(pareto_front(exp, trials=history)), "pareto", "Pareto front"))
    return _page(f"tunehooks report: {exp.name}", s)


def _top_trials(
    exp: Experiment, metric: str, history: Sequence[TrialRecord], top: int
) -> list[TrialRecord]:
    m = pick_metric(exp.metrics, metric)
    elig = [
        t
        for t in history
        if is_eligible(t, exp.metrics, exp.fidelity) and t.value(metric) is not None
    ]
    return sorted(elig, key=lambda t: (-m.sign * float(t.values[metric]), t.number))[:top]


def write_report(
    exp: Experiment,
    path: str | os.PathLike[str],
    *,
    metric: str | None = None,
    top: int = 10,
    point: float = 0.01,
    gpus_per_trial: float | None = None,
) -> str:
    """Write the HTML report of ``exp`` to ``path`` and return the path.

    The report holds the cost table, the best trials, the best-so-far trace
    (against trials, epochs and trial-hours, or GPU-hours with ``gpus_per_trial``),
    learning curves (pruned trials
    marked), parallel coordinates, parameter importance, slices and, with two
    metrics, the Pareto front. It only reads the experiment.

    Example:
        >>> import tunehooks as th, tempfile, os
        >>> exp = th.Experiment.create("doc-report", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("y", goal="minimize")], budget=th.Budget(trials=5),
        ...     storage="sqlite://", method="random")
        >>> for t in exp.ask_loop():
        ...     _ = t.complete({"y": t.params["x"]})
        >>> out = write_report(exp, os.path.join(tempfile.mkdtemp(), "report.html"))
        >>> "data:image/png;base64," in open(out).read()
        True
    """
    text = report_html(exp, metric=metric, top=top, point=point, gpus_per_trial=gpus_per_trial)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return os.fspath(path)


def compare_html(bands: Sequence[CompareBand], *, title: str = "tunehooks compare") -> str:
    """A compare figure and a table of final medians, as one HTML document."""
    rows = []
    for b in bands:
        last = max((i for i, c in enumerate(b.n) if c > 0), default=None)
        rows.append(
            [
                b.label,
                b.runs,
                None if last is None else b.median[last],
                None if last is None else b.q25[last],
                None if last is None else b.q75[last],
            ]
        )
    s = [
        f"<h1>{html.escape(title)}</h1>",
        _img(compare_figure(bands, title=title), "compare", "best-so-far comparison"),
        _table(rows, ["group", "runs", "final median", "q25", "q75"], key="compare"),
    ]
    return _page(title, s)
