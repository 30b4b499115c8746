"""A custom scheduler stored with its experiment, so every process decides with it.

``Experiment.create(scheduler=...)`` stores the scheduler's class and its settings in
the experiment's configuration (the class by its name in the scheduler registry,
``"asha"``, or by its import path when it is not one of tunehooks' schedulers, see
:func:`~tunehooks.schedulers.registry.scheduler_name`); a process that loads the experiment
without a ``scheduler`` of its own (a launched trial, another worker) rebuilds the
same rule from them. The settings are ``to_dict()`` when the class has one, else the
constructor's arguments read back from the same-named attributes (``StopAt(step=3)``
keeping ``self.step``); the class is rebuilt with ``from_dict(settings)`` when it has
one, else ``cls(**settings)`` (tunehooks' own schedulers with ``(fidelity, metrics,
seed=...)`` first). A class that cannot be rebuilt (defined inside a function, not
importable in that process) is logged, and that process uses the default rule as
before.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from tunehooks.fidelity import Fidelity
from tunehooks.metrics import Metric
from tunehooks.schedulers import Scheduler
from tunehooks.schedulers.registry import scheduler_class, scheduler_name

__all__ = ["rebuild_scheduler", "scheduler_spec"]

_log = logging.getLogger("tunehooks")


def scheduler_spec(scheduler: object) -> dict[str, Any]:
    """What is stored of ``scheduler``: ``{"class": name, "settings": {...}}``, the name
    from the scheduler registry (``"asha"``) or the import path (``"module:QualName"``).

    Example:
        >>> from tunehooks.schedulers import NoScheduler
        >>> scheduler_spec(NoScheduler())
        {'class': 'none', 'settings': {}}
    """
    cls = type(scheduler)
    to_dict = getattr(scheduler, "to_dict", None)
    if callable(to_dict):
        settings = dict(to_dict())
    else:
        settings = {}
        try:
            params = inspect.signature(cls.__init__).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        for name, p in params.items():
            if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if hasattr(scheduler, name) and _is_json(getattr(scheduler, name)):
                settings[name] = getattr(scheduler, name)
    if not _is_json(settings):
        raise ValueError(
            f"scheduler: {cls.__qualname__}.to_dict() must return JSON data (got {settings!r})"
        )
    return {"class": scheduler_name(cls), "settings": settings}


def rebuild_scheduler(
    spec: Mapping[str, Any],
    *,
    fidelity: Fidelity | None,
    metrics: Sequence[Metric],
    seed: int,
    experiment: str,
) -> Scheduler | None:
    """The scheduler ``spec`` describes, or ``None`` (logged) when it cannot be rebuilt."""
    path = str(spec.get("class", ""))
    settings = dict(spec.get("settings") or {})
    try:
        obj = scheduler_class(path)
        from_dict = getattr(obj, "from_dict", None)
        if callable(from_dict):
            return from_dict(settings)  # type: ignore[no-any-return]
        if str(obj.__module__).startswith("tunehooks.schedulers."):  # the experiment's own
            for own in ("fidelity", "metrics", "seed"):
                settings.pop(own, None)
            return obj(fidelity, metrics, seed=seed, **settings)  # type: ignore[no-any-return]
        return obj(**settings)  # type: ignore[no-any-return]
    except Exception as e:
        _log.warning(
            "experiment %r was created with the scheduler %s, which this process cannot "
            "rebuild (%s: %s); it decides with the default rule: define the class in an "
            "importable module, or pass scheduler= to Experiment.load",
            experiment,
            path,
            type(e).__name__,
            e,
        )
        return None


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True
