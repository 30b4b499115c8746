"""``tunehooks compare``: best-so-far of groups of repeated runs, from storage, to a file."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence

from tunehooks.analysis._data import ReadOnlyStorage, load_from
from tunehooks.analysis.traces import Axis, compare_traces
from tunehooks.experiment import Experiment

__all__ = ["compare_experiments", "match_groups"]


def match_groups(patterns: Sequence[str], names: Sequence[str]) -> dict[str, list[str]]:
    """Each pattern (an experiment name or a glob such as ``"bayes-seed*"``) to the stored
    names it matches, in storage order.

    Example:
        >>> match_groups(["bo-*", "random-1"], ["bo-1", "bo-2", "random-1", "random-2"])
        {'bo-*': ['bo-1', 'bo-2'], 'random-1': ['random-1']}
    """
    groups: dict[str, list[str]] = {}
    for pat in patterns:
        found = [pat] if pat in names else [n for n in names if fnmatch.fnmatchcase(n, pat)]
        if not found:
            raise ValueError(
                f"compare: no experiment matches {pat!r}; known: {list(names) or 'none'}"
            )
        groups[pat] = found
    return groups


def compare_experiments(
    patterns: Sequence[str],
    out: str | os.PathLike[str],
    *,
    storage: str | None = None,
    metric: str | None = None,
    axis: Axis | str = Axis.TRIALS,
    gpus_per_trial: float | None = None,
) -> int:
    """Write the comparison of the experiment groups to ``out`` (``.png``, ``.svg`` or
    ``.html``, by suffix), reading storage read-only; return the number of experiments.

    Each pattern is one group (its repeated runs); the figure shows each group's
    median best-so-far and interquartile range.
    """
    from tunehooks.analysis.figures import compare_figure, to_png, to_svg
    from tunehooks.analysis.html import compare_html
    from tunehooks.storage import default_storage_url

    suffix = os.path.splitext(os.fspath(out))[1].lower()
    if suffix not in (".png", ".svg", ".html", ".htm"):
        raise ValueError(f"--out {os.fspath(out)!r}: give a .png, .svg or .html file")
    store = ReadOnlyStorage(storage or default_storage_url())
    groups = match_groups(patterns, store.list_experiments())
    runs: dict[str, list[Experiment]] = {
        label: [load_from(store, n) for n in names] for label, names in groups.items()
    }
    bands = compare_traces(runs, metric=metric, axis=axis, gpus_per_trial=gpus_per_trial)
    title = "best so far: " + " vs ".join(groups)
    if suffix in (".html", ".htm"):
        with open(out, "w", encoding="utf-8") as f:
            f.write(compare_html(bands, title=title))
    elif suffix == ".svg":
        with open(out, "w", encoding="utf-8") as f:
            f.write(to_svg(compare_figure(bands, title=title)))
    else:
        with open(out, "wb") as f:
            f.write(to_png(compare_figure(bands, title=title)))
    return sum(len(v) for v in runs.values())
