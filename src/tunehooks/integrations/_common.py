"""The framework-free part of every integration.

Each framework callback is thin glue around :class:`Reporter`, which holds the
decisions that do not depend on the framework: which trial to train, turning
the framework's metrics into floats, checking that the monitored metric
exists, failing a diverged trial, and finishing the trial when training ends
(COMPLETED, PRUNED when the scheduler stopped it, FAILED with the error).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any

from tunehooks import _extras, _trainings
from tunehooks._ranks import process_rank
from tunehooks.integrations._guards import (
    PEER_WAIT_S,
    is_peer_echo,
    objective_alias,
    objective_names,
    portable_trial,
    reload_trial,
)
from tunehooks.integrations._resume import (
    Resumer,
    StateSaver,
    interruption_text,
    is_interruption,
)
from tunehooks.reporting import first_non_finite  # re-exported: the one rule's test
from tunehooks.trial import (
    Decision,
    Trial,
    TrialPruned,
    TrialRecord,
    TrialState,
    TrialStateError,
    _error_text,
)

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

__all__ = [
    "MissingMetricError",
    "Reporter",
    "StateSaver",
    "check_monitor",
    "end_state",
    "first_non_finite",
    "require",
    "resolve_trial",
    "scalar_metrics",
    "to_float",
]


class MissingMetricError(LookupError):
    """The monitored metric is not among the metrics the training produced."""


def require(module: str, *, extra: str) -> ModuleType:
    """Import ``module`` or raise ModuleNotFoundError naming the tunehooks extra to install
    (the one install hint, :func:`tunehooks._extras.require`; a framework that is installed
    but fails to import raises its own error).

    Example:
        >>> require("math", extra="none").sqrt(4.0)
        2.0
        >>> require("no_such_framework_xyz", extra="keras")
        Traceback (most recent call last):
        ...
        ModuleNotFoundError: tunehooks.integrations.keras needs no_such_framework_xyz: pip install "tunehooks[keras]"
    """
    return _extras.require(module, extra=extra, what=f"tunehooks.integrations.{extra}")


def resolve_trial(trial: Trial | Experiment | None = None) -> Trial:
    """The trial to train: ``trial`` itself; the next trial of an experiment; or else
    the trial a launcher assigned through the environment (:func:`tunehooks.current_trial`,
    which asks the experiment named there for its next trial when no id is set)."""
    if isinstance(trial, Trial):
        return trial
    if trial is None:
        from tunehooks.context import current_trial

        return current_trial()
    from tunehooks.experiment import Experiment

    if isinstance(trial, Experiment):
        asked = trial.ask()
        if asked is None:
            raise RuntimeError(
                f"experiment {trial.name!r} has spent its budget; no trial left to train"
            )
        return asked
    raise TypeError(
        f"trial: expected a tunehooks Trial, an Experiment or None (got {type(trial).__name__})"
    )


def _element_count(value: Any) -> int | None:
    numel = getattr(value, "numel", None)  # torch
    if callable(numel):
        return int(numel())
    size = getattr(value, "size", None)  # numpy, MXNet
    if isinstance(size, int):
        return size
    shape = getattr(value, "shape", None)  # TensorFlow
    if shape is not None:
        try:
            return math.prod(int(d) for d in shape)
        except (TypeError, ValueError):
            return None
    return None


def _call_scalar(fn: Any) -> float | None:
    """``float(fn())`` (through ``.item()`` when it returns an array), None when it fails."""
    try:
        out = fn()
        return float(out.item() if hasattr(out, "item") else out)
    except (TypeError, ValueError, RuntimeError):
        return None


def to_float(value: Any) -> float | None:
    """A Python float for a scalar metric (number, 0-d/1-element tensor or array), else None.

    Works on torch, TensorFlow, numpy and MXNet values without importing them.

    Example:
        >>> to_float(3), to_float("x"), to_float([1.0, 2.0])
        (3.0, None, None)
    """
    if isinstance(value, bool | int | float):
        return float(value)
    if value is None or isinstance(value, str | bytes):
        return None
    item = getattr(value, "item", None)  # torch, numpy: raises for more than one element
    if callable(item):
        return _call_scalar(item)
    if _element_count(value) not in (None, 1):
        return None
    for method in ("asscalar", "numpy"):  # MXNet, TensorFlow
        fn = getattr(value, method, None)
        if callable(fn):
            return _call_scalar(fn)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def scalar_metrics(raw: Mapping[str, Any]) -> dict[str, float]:
    """The scalar numeric entries of ``raw`` as floats (others are left out)."""
    out: dict[str, float] = {}
    for name, value in raw.items():
        v = to_float(value)
        if v is not None:
            out[str(name)] = v
    return out


def check_monitor(monitor: Sequence[str], metrics: Mapping[str, float], *, where: str) -> None:
    """Raise :class:`MissingMetricError` when a monitored metric is absent, listing those that exist."""
    missing = [m for m in monitor if m not in metrics]
    if missing:
        names = ", ".join(repr(m) for m in sorted(metrics)) or "none"
        raise MissingMetricError(
            f"monitor: metric {missing[0]!r} is not among the metrics of {where} "
            f"(they are: {names}); log it, or pass monitor= one of those"
        )


def end_state(
    *, finished: bool, stopped_by_scheduler: bool, error: BaseException | None
) -> TrialState | None:
    """What a trial becomes when its training ends; None when it is already finished.

    Example:
        >>> end_state(finished=False, stopped_by_scheduler=True, error=None).value
        'PRUNED'
    """
    if finished:
        return None
    if isinstance(error, TrialPruned):
        return TrialState.PRUNED
    if error is not None:
        return TrialState.FAILED
    return TrialState.PRUNED if stopped_by_scheduler else TrialState.COMPLETED


def _monitor_names(monitor: str | Sequence[str] | None) -> tuple[str, ...]:
    if monitor is None:
        return ()
    names = (monitor,) if isinstance(monitor, str) else tuple(monitor)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"monitor: expected metric names (got {monitor!r})")
    return names


class Reporter:
    """Reports a training's metrics to a trial and finishes it; what every callback wraps.

    ``trial``: a :class:`~tunehooks.Trial`; an :class:`~tunehooks.Experiment`
    (its next trial); or None for :func:`tunehooks.current_trial`. ``monitor``:
    metrics that must be present in every report. ``writer=False`` (DDP ranks
    other than 0) reads the trial and never writes, except the error when its
    training raised; by default only rank 0 (from the environment) writes.
    ``state``: a :class:`StateSaver` that saves and restores the training (see
    :mod:`tunehooks.integrations._resume`): a resumed trial is restored from its last
    checkpoint when the reporter is made, and :meth:`epochs` continues after it.

    The first report is checked against the experiment's optimized metric: when
    it is missing and one metric is monitored, each report carries the monitored
    value under the objective's name too; otherwise :class:`MissingMetricError`
    names both. Each :meth:`begin_fit` starts a new segment of the same curve: a
    fit whose steps restart at 1 continues after the last step already reported.

    Used as a context manager it finishes the trial on exit: COMPLETED with the
    last reported metrics, PRUNED when the scheduler stopped it (or the body
    raised :class:`~tunehooks.TrialPruned`, which is then swallowed), FAILED
    with the error when the body raised.

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-reporter", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("acc", goal="maximize")], budget=th.Budget(trials=1),
        ...     storage="sqlite://", method="random")
        >>> with Reporter(exp, monitor="acc") as rep:
        ...     for epoch in range(1, 4):
        ...         if rep.report(epoch, {"acc": 0.5 + 0.1 * epoch}) is th.Decision.STOP:
        ...             break
        >>> rep.trial.state.value, rep.trial.record.value("acc")
        ('COMPLETED', 0.8)
    """

    def __init__(
        self,
        trial: Trial | Experiment | None = None,
        *,
        monitor: str | Sequence[str] | None = None,
        writer: bool | None = None,
        state: StateSaver | None = None,
    ) -> None:
        self.monitor = _monitor_names(monitor)
        self.trial = resolve_trial(trial)
        self.writer = process_rank() == 0 if writer is None else writer
        self.resumer = Resumer(self.trial)
        self.state = state
        self.last_metrics: dict[str, float] = {}
        self.last_step: int | None = None
        self._checked = False  # the first report was checked against the objective
        self._alias: tuple[str, str] | None = None  # (monitored, objective)
        self._base: int | None = None  # the last step before the current fit
        self._offset: int | None = 0  # added to this fit's steps (None: not known yet)
        self._adjust = True  # the next report goes through _adjusted
        self.restored_step: int | None = None  # the step the training was restored at
        if state is not None:
            self.restored_step = self.resumer.restore(state.load)
            if self.restored_step is not None:
                self.begin_fit(restored=self.restored_step)

    @property
    def stopped(self) -> bool:
        """True once the scheduler said STOP or the trial finished (e.g. failed by a NaN)."""
        return self.trial.should_stop

    def begin_fit(self, *, restored: int | None = None) -> None:
        """A fit of the trial begins; its steps continue the trial's curve.

        ``restored``: the fit was restored from a checkpoint taken at that step (0: a
        resumed trial starting afresh); its steps are the curve's own, not offset.
        """
        if restored is not None:
            self._base, self._offset, self._adjust = restored, 0, True
            return
        base = self.last_step
        if base is None and self.writer and not self.trial.is_finished:
            base = self.trial.refresh().last_step  # reported by an earlier callback
        self._base, self._offset, self._adjust = base, None, True

    def report(
        self, step: int, metrics: Mapping[str, Any], *, where: str = "the training"
    ) -> Decision:
        """Report the scalar entries of ``metrics`` at ``step``; the scheduler's decision.

        Raises :class:`MissingMetricError` (after failing the trial) when a
        monitored metric is absent, or, at the first report, when the optimized
        metric can be found neither under its name nor as the one ``monitor``.
        A NaN or infinite value fails the trial with a message naming the metric
        and the step, and returns STOP.
        """
        values = scalar_metrics(metrics)
        try:
            check_monitor(self.monitor, values, where=where)
            if self._adjust:  # a first report, an alias or a later fit's offset
                step = self._adjusted(step, values, where)
        except MissingMetricError as e:
            if self.writer and not self.trial.is_finished:
                self.trial.fail(e)
            raise
        self.last_metrics, self.last_step = values, step
        if not self.writer:
            return Decision.STOP if self.trial.should_stop else Decision.CONTINUE
        if self.trial.is_finished:
            return Decision.STOP
        try:  # a non-finite value fails the trial (tunehooks.reporting's one rule)
            decision = self.trial._report_floats(step, values)
        except TrialStateError:  # finished elsewhere (e.g. reclaimed by a launcher): stop
            self.trial.refresh()
            return Decision.STOP
        if self.state is not None and self.resumer.due(decision):
            self.resumer.save(step, self.state.save)
        return decision

    def _adjusted(self, step: int, values: dict[str, float], where: str) -> int:
        """The step (after this fit's offset); ``values`` get the objective's alias."""
        if not self._checked:
            self._alias = objective_alias(
                objective_names(self.trial), self.monitor, values, where=where
            )
            self._checked = True
        if self._alias is not None:
            values[self._alias[1]] = values[self._alias[0]]
        if self._offset is None:  # the first report of a fit that began after others
            base = self._base
            self._offset = base if base is not None and step <= base else 0
        self._adjust = self._alias is not None or self._offset != 0
        return step + self._offset

    def epochs(self, max_epochs: int | None = None) -> Iterator[int]:
        """Epoch numbers 1, 2, ... up to the trial's fidelity (else ``max_epochs``),
        ending early once the scheduler said STOP."""
        fid = self.trial.fidelity
        n = round(fid) if fid is not None else max_epochs
        if n is None:
            raise ValueError(
                f"max_epochs: trial {self.trial.number} has no fidelity; pass max_epochs="
            )
        for epoch in range((self.restored_step or 0) + 1, int(n) + 1):
            if self.stopped:
                return
            yield epoch

    def finish(
        self, error: BaseException | None = None, *, block_end: bool = False
    ) -> TrialRecord | None:
        """Finish the trial once training ended; None when it was already finished, when
        this is not the writer, or when a ``ask_loop()`` loop (or ``with`` block) holding
        the trial completes it at its end (``block_end``: this is such an end).

        A rank other than 0 writes only an error of its own (the first error wins);
        rank 0 failing with another rank's echo (gloo's "Connection closed by peer")
        first waits a little for that rank's real error.
        """
        if error is not None and is_interruption(error):
            if self.writer and not self.trial.is_finished:  # resumed by the next ask
                with contextlib.suppress(TrialStateError):
                    return self.trial.interrupt(interruption_text(error))
            return None
        if not self.writer:
            if error is not None and not isinstance(error, TrialPruned) and not is_peer_echo(error):
                with contextlib.suppress(TrialStateError):  # rank 0 was faster: keep that
                    return self.trial.fail(
                        f"{_error_text(error)} (raised on DDP rank {process_rank()})"
                    )
            return None
        # the handle knows what this process did; a trial finished elsewhere in the
        # meantime (e.g. reclaimed by a launcher) makes the write below refuse
        state = end_state(
            finished=self.trial.is_finished,
            stopped_by_scheduler=self.trial.should_stop,
            error=error,
        )
        if state is TrialState.COMPLETED and not block_end and _trainings.is_held(self.trial.id):
            return None  # the loop holding the trial completes it: later fits continue it
        peer_echo = state is TrialState.FAILED and error is not None and is_peer_echo(error)
        if peer_echo and self._peer_failed():
            return None
        out = None
        try:
            if state is TrialState.COMPLETED:
                out = self.trial.complete(self.last_metrics or None)
            elif state is TrialState.PRUNED:
                out = self.trial.prune()
            elif state is TrialState.FAILED:
                out = self.trial.fail(error)
        except TrialStateError:  # finished elsewhere in the meantime: keep that outcome
            self.trial.refresh()
        if out is not None:
            self.resumer.clean_finished()
        return out

    def _peer_failed(self) -> bool:
        """Wait up to :data:`PEER_WAIT_S` for another rank to store its error."""
        deadline = time.monotonic() + PEER_WAIT_S
        while time.monotonic() < deadline:
            if self.trial.refresh().state.is_finished:
                return True
            time.sleep(0.1)
        return False

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["trial"] = portable_trial(state["trial"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["trial"] = reload_trial(state["trial"])
        self.__dict__.update(state)

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self.finish(exc, block_end=True)
        return isinstance(exc, TrialPruned)
