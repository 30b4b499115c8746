"""Analysis of an experiment: traces, importance, Pareto front, costs, figures, report.

The computations (``traces``, ``importance``, ``pareto``, ``costs``) return
plain dataclasses; ``figures`` draws them with matplotlib and ``html`` writes
one self-contained report. Names are loaded on first use, so importing this
package imports neither matplotlib nor scikit-learn.

Example:
    >>> import tunehooks as th
    >>> from tunehooks import analysis
    >>> exp = th.Experiment.create("doc-analysis", th.SearchSpace({"x": th.Float(0, 1)}),
    ...     metrics=[th.Metric("y", goal="minimize")], budget=th.Budget(trials=3),
    ...     storage="sqlite://", method="random")
    >>> for t, y in zip(exp.ask_loop(), [2.0, 3.0, 1.0]):
    ...     _ = t.complete({"y": y})
    >>> analysis.best_so_far(exp).best
    [2.0, 2.0, 1.0]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunehooks.analysis._data import ReadOnlyStorage, open_readonly
    from tunehooks.analysis.compare import compare_experiments, match_groups
    from tunehooks.analysis.costs import CostTable, cost_table
    from tunehooks.analysis.export import curves_csv, trials_json, write_json
    from tunehooks.analysis.figures import (
        compare_figure,
        importance_figure,
        learning_curves_figure,
        parallel_coordinates_figure,
        pareto_figure,
        slices_figure,
        to_png,
        to_svg,
        trace_figure,
    )
    from tunehooks.analysis.html import compare_html, report_html, write_report
    from tunehooks.analysis.importance import (
        Importance,
        Slice,
        importance_warning,
        parameter_importance,
        reliable_trials,
        slices,
    )
    from tunehooks.analysis.pareto import (
        HypervolumeTrace,
        ParetoResult,
        hypervolume,
        hypervolume_trace,
        non_dominated,
        pareto_front,
    )
    from tunehooks.analysis.traces import Axis, CompareBand, Trace, best_so_far, compare_traces
    from tunehooks.analysis.tracking import ExportResult, to_mlflow, to_tensorboard

_EXPORTS = {
    "Axis": "traces",
    "CompareBand": "traces",
    "CostTable": "costs",
    "ExportResult": "tracking",
    "HypervolumeTrace": "pareto",
    "Importance": "importance",
    "ParetoResult": "pareto",
    "ReadOnlyStorage": "_data",
    "Slice": "importance",
    "Trace": "traces",
    "best_so_far": "traces",
    "compare_experiments": "compare",
    "compare_figure": "figures",
    "compare_html": "html",
    "compare_traces": "traces",
    "cost_table": "costs",
    "curves_csv": "export",
    "hypervolume": "pareto",
    "hypervolume_trace": "pareto",
    "parameter_importance": "importance",
    "importance_warning": "importance",
    "reliable_trials": "importance",
    "importance_figure": "figures",
    "learning_curves_figure": "figures",
    "match_groups": "compare",
    "non_dominated": "pareto",
    "open_readonly": "_data",
    "parallel_coordinates_figure": "figures",
    "pareto_front": "pareto",
    "pareto_figure": "figures",
    "report_html": "html",
    "slices": "importance",
    "slices_figure": "figures",
    "to_mlflow": "tracking",
    "to_png": "figures",
    "to_svg": "figures",
    "to_tensorboard": "tracking",
    "trace_figure": "figures",
    "trials_json": "export",
    "write_json": "export",
    "write_report": "html",
}

__all__ = [
    "Axis",
    "CompareBand",
    "CostTable",
    "ExportResult",
    "HypervolumeTrace",
    "Importance",
    "ParetoResult",
    "ReadOnlyStorage",
    "Slice",
    "Trace",
    "best_so_far",
    "compare_experiments",
    "compare_figure",
    "compare_html",
    "compare_traces",
    "cost_table",
    "curves_csv",
    "hypervolume",
    "hypervolume_trace",
    "importance_figure",
    "importance_warning",
    "learning_curves_figure",
    "match_groups",
    "non_dominated",
    "open_readonly",
    "parallel_coordinates_figure",
    "parameter_importance",
    "pareto_figure",
    "pareto_front",
    "reliable_trials",
    "report_html",
    "slices",
    "slices_figure",
    "to_mlflow",
    "to_png",
    "to_svg",
    "to_tensorboard",
    "trace_figure",
    "trials_json",
    "write_json",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tunehooks.analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tunehooks.analysis.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
