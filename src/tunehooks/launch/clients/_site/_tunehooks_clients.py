"""Patches for programs written for W&B or SigOpt, run by ``tunehooks launch``.

Standard library only: the trial's interpreter may not have tunehooks installed.
Reports are ``tunehooks: {json}`` lines written to file descriptor 1 (the launcher
reads them from the trial's stdout even when the program or W&B captures
``sys.stdout``); SigOpt's metric values are final ``name<TAB>value`` lines.
"""

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import json
import math
import os
import sys

_STEP_KEYS = ("step", "epoch", "global_step", "_step", "trainer/global_step")
_state = {"calls": 0, "last": 0}  # a W&B band b judges the value of step b, as W&B does


def _params():
    path = os.environ.get("TUNEHOOKS_CLIENT_PARAMS")
    if not path:
        return {}
    with open(path) as f:
        return json.load(f)


def _write(line):
    data = (line + "\n").encode()
    while data:
        n = os.write(1, data)
        data = data[n:]


def _number(v):
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        x = float(v)
    else:
        item = getattr(v, "item", None)  # numpy / torch scalars
        try:
            x = float(item() if callable(item) else v)
        except (TypeError, ValueError):
            return None
    return x if math.isfinite(x) else None


def _flat(prefix, data, out):
    for k, v in data.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            _flat(name + ".", v, out)
        else:
            x = _number(v)
            if x is not None:
                out[name] = x


def report(data, step=None):
    """One ``wandb.log``-style call as a tunehooks report line."""
    if not isinstance(data, dict):
        return
    _state["calls"] += 1
    metrics = {}
    _flat("", data, metrics)
    if step is None:
        for key in _STEP_KEYS:
            v = data.get(key)
            if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
                step = v
                break
    if step is None:
        step = _state["calls"] - 1  # W&B's own _step: 0, 1, 2, ...
    step = max(int(step), _state["last"])
    _state["last"] = step
    for key in _STEP_KEYS:
        metrics.pop(key, None)
    if metrics:
        _write("tunehooks: " + json.dumps({"step": step, **metrics}))


_WANDB_RUNS = (("wandb.sdk.wandb_run", "Run"), ("wandb.sdk.lib.noop_run", "NoopRun"))


def _wrap_log(cls):
    original = cls.__dict__.get("log")
    if original is None or getattr(original, "_tunehooks", False):
        return

    def log(self, data=None, step=None, *args, **kwargs):
        with contextlib.suppress(Exception):  # reporting must never break the program
            report(data, step)
        return original(self, data, step, *args, **kwargs)

    log._tunehooks = True
    log.__doc__ = original.__doc__
    cls.log = log


def _patch_wandb(wandb):
    """``wandb.log`` (a real run's, an offline one's, a disabled one's) also reports."""
    for module_name, cls_name in _WANDB_RUNS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        cls = getattr(module, cls_name, None)
        if cls is not None:
            _wrap_log(cls)


class _Task:
    def __init__(self, name, cost):
        self.name = name
        self.cost = cost

    def __repr__(self):
        return f"Task(name={self.name!r}, cost={self.cost!r})"


def _patch_sigopt(sigopt):
    params = _params()
    with contextlib.suppress(Exception):  # an older client: get_parameter still works
        sigopt.params.update(params)
    missing = object()

    def get_parameter(name, default=missing):
        if name in params:
            return params[name]
        if default is missing:
            raise KeyError(f"no parameter {name!r} in this trial (parameters: {sorted(params)})")
        return default

    def get_task():
        name = os.environ.get("TUNEHOOKS_TASK")
        if name is None:
            return None
        cost = os.environ.get("TUNEHOOKS_TASK_COST")
        return _Task(name, None if cost is None else float(cost))

    def log_metric(name, value, stddev=None):
        x = _number(value)
        if x is not None:
            _write(f"{name}\t{x!r}")

    def log_metrics(*args, **metrics):
        for d in args:
            metrics.update(d)
        for k, v in metrics.items():
            log_metric(k, v)

    sigopt.get_parameter = get_parameter
    sigopt.get_task = get_task
    sigopt.log_metric = log_metric
    sigopt.log_metrics = log_metrics


_PATCHES = {"wandb": _patch_wandb, "sigopt": _patch_sigopt}


class _Loader(importlib.abc.Loader):
    def __init__(self, inner, name):
        self.inner = inner
        self.name = name

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        _PATCHES[self.name](module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name not in _PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Loader(spec.loader, name)
        return spec


def install():
    wanted = set(os.environ.get("TUNEHOOKS_CLIENTS", "").split(","))
    for name in list(_PATCHES):
        if name not in wanted:
            _PATCHES.pop(name)
    if any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    for name in list(_PATCHES):
        if name in sys.modules:
            _PATCHES[name](sys.modules[name])
    sys.meta_path.insert(0, _Finder())
