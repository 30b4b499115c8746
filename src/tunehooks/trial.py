"""Trials: states, decisions, the stored record and the live handle.

A :class:`TrialRecord` is an immutable snapshot read from storage: what the
optimizers, schedulers and analysis see. A :class:`Trial` is the live handle a
training loop holds: it reports metrics, learns whether to stop, and finishes
the trial. The handle talks to its experiment through the small
:class:`TrialSink` protocol so that this module depends on nothing above it.
"""

from __future__ import annotations

import enum
import math
import operator
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "CONFIG_ERROR_PREFIX",
    "INTERRUPTED_PREFIX",
    "MAX_STEP",
    "Decision",
    "Report",
    "Suggestion",
    "Trial",
    "TrialPruned",
    "TrialRecord",
    "TrialSink",
    "TrialState",
    "TrialStateError",
]


class TrialState(str, enum.Enum):
    """Life cycle of a trial.

    QUEUED -> RUNNING -> COMPLETED | PRUNED | FAILED | PAUSED; a PAUSED trial
    (stopped at a rung by a promotion scheduler, its curve kept) may be resumed
    (PAUSED -> RUNNING) and then continues its curve where it stopped.
    """

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    PRUNED = "PRUNED"
    FAILED = "FAILED"
    PAUSED = "PAUSED"

    @property
    def is_finished(self) -> bool:
        """Final: the trial never changes again (PAUSED is not: it may resume)."""
        return self in (TrialState.COMPLETED, TrialState.PRUNED, TrialState.FAILED)

    @property
    def is_stopped(self) -> bool:
        """No process trains the trial now and none will without a resume: finished or PAUSED."""
        return self.is_finished or self is TrialState.PAUSED


class Decision(str, enum.Enum):
    """A scheduler's answer to a report."""

    CONTINUE = "CONTINUE"
    STOP = "STOP"


class TrialPruned(Exception):
    """Raise inside a training loop to end the current trial as PRUNED."""


class TrialStateError(RuntimeError):
    """An operation that the trial's current state does not allow."""


@dataclass(frozen=True)
class Suggestion:
    """A configuration to evaluate next (and the resource to train it for).

    ``resume`` names a PAUSED trial (by id) to continue instead of a new one
    (a promotion); ``params`` are then that trial's.

    Example:
        >>> s = Suggestion({"lr": 0.01}, fidelity=9)
        >>> s.params["lr"], s.fidelity, s.resume is None
        (0.01, 9, True)
    """

    params: Mapping[str, Any]
    fidelity: float | None = None
    resume: int | None = None


@dataclass(frozen=True)
class Report:
    """Metrics reported at one step (an epoch by default) of a trial.

    Example:
        >>> r = Report(step=3, metrics={"val_acc": 0.91, "val_loss": 0.3})
        >>> r.step, r.metrics["val_acc"]
        (3, 0.91)
    """

    step: int
    metrics: Mapping[str, float]
    time: float = 0.0


@dataclass(frozen=True)
class TrialRecord:
    """An immutable snapshot of a stored trial.

    Example:
        >>> r = TrialRecord(id=1, number=0, state=TrialState.COMPLETED, params={"lr": 0.1},
        ...                 values={"acc": 0.9})
        >>> r.value("acc")
        0.9
    """

    id: int
    number: int
    state: TrialState
    params: Mapping[str, Any]
    fidelity: float | None = None
    values: Mapping[str, float] = field(default_factory=dict)
    reports: Sequence[Report] = ()
    error: str | None = None
    worker_id: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    heartbeat_at: float | None = None
    attempt: int = 0

    def value(self, metric: str) -> float | None:
        """The final value of ``metric``, or ``None`` when the trial has none."""
        v = self.values.get(metric)
        return None if v is None else float(v)

    def last_reported(self, metric: str) -> float | None:
        """The most recent reported value of ``metric`` (final value first)."""
        if metric in self.values:
            return float(self.values[metric])
        for rep in reversed(self.reports):
            if metric in rep.metrics:
                return float(rep.metrics[metric])
        return None

    @property
    def last_step(self) -> int | None:
        return self.reports[-1].step if self.reports else None

    @property
    def interrupted(self) -> bool:
        """PAUSED by an interruption (SIGTERM, Ctrl-C, a vanished worker), not at a rung:
        the next ask resumes it first, from its last checkpoint."""
        return self.state is TrialState.PAUSED and (self.error or "").startswith(INTERRUPTED_PREFIX)

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.time()
        return end - self.started_at


class TrialSink(Protocol):
    """What a :class:`Trial` handle needs from its experiment (an
    :class:`~tunehooks.Experiment` is one; see :mod:`tunehooks.reporting`)."""

    def report_trial(
        self, record: TrialRecord, step: int, metrics: Mapping[str, float]
    ) -> Decision: ...

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        values: Mapping[str, float] | None,
        error: str | None,
        *,
        known: TrialRecord | None = None,
    ) -> TrialRecord: ...

    def read_trial(self, trial_id: int) -> TrialRecord: ...


CONFIG_ERROR_PREFIX = "configuration error: "
"""How the error of a trial that failed on its configuration starts (the program is not
there, rejects its arguments, exits without the metric): it would fail again with the
same settings, so it is never retried and costs nothing of a cost budget."""

INTERRUPTED_PREFIX = "interrupted: "
"""How the error of a trial PAUSED by an interruption starts (see :attr:`TrialRecord.interrupted`)."""

MAX_STEP = 2**63 - 1
"""The largest step a report may carry (a signed 64-bit integer, SQLite's INTEGER)."""


def check_step(step: Any) -> int:
    """``step`` as an ``int`` in ``[0, MAX_STEP]``, or a :class:`ValueError` that says why.

    Integers (Python's, numpy's) and floats with no fractional part are steps;
    anything else is refused, never truncated.

    Example:
        >>> check_step(3), check_step(4.0)
        (3, 4)
        >>> check_step(1.7)
        Traceback (most recent call last):
        ...
        ValueError: step must be a whole number (got 1.7); steps count epochs or batches
    """
    if isinstance(step, bool):
        raise ValueError(f"step must be an integer, not a bool (got {step!r})")
    if isinstance(step, float):
        if not math.isfinite(step):
            raise ValueError(f"step must be a finite whole number (got {step!r})")
        if not step.is_integer():
            raise ValueError(
                f"step must be a whole number (got {step!r}); steps count epochs or batches"
            )
        value = int(step)
    else:
        try:
            value = operator.index(step)
        except TypeError:
            raise ValueError(
                f"step must be an integer (got {type(step).__name__} {_short(step)})"
            ) from None
    if value < 0 or value > MAX_STEP:
        raise ValueError(f"step must be between 0 and 2**63-1 (got {_short(value)})")
    return value


def _short(value: Any) -> str:
    """``repr(value)`` cut to one short line (a 5,000-digit integer is described, not printed)."""
    if isinstance(value, int) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _clean_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise ValueError(
            f"metrics must be a mapping of names to numbers (got {type(metrics).__name__})"
        )
    out: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"metric names must be non-empty strings (got {_short(name)})")
        try:
            out[name] = float(value)
        except OverflowError:
            raise ValueError(f"metric {name!r}: {_short(value)} is too large for a float") from None
        except (TypeError, ValueError):
            raise ValueError(
                f"metric {name!r}: expected a number, got {type(value).__name__} {_short(value)}"
            ) from None
    return out


class Trial:
    """The live handle on one configuration being evaluated.

    Obtained from :meth:`tunehooks.Experiment.ask`, :meth:`tunehooks.Experiment.trials`
    or :func:`tunehooks.current_trial`.

    Example:
        >>> import tunehooks as th
        >>> exp = th.Experiment.create("doc-trial", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("y", goal="minimize")], budget=th.Budget(trials=2),
        ...     storage="sqlite://", method="random")
        >>> trial = exp.ask()
        >>> trial.report(1, {"y": trial.params["x"] ** 2})
        <Decision.CONTINUE: 'CONTINUE'>
        >>> trial.complete({"y": trial.params["x"] ** 2}).state
        <TrialState.COMPLETED: 'COMPLETED'>
    """

    def __init__(self, sink: TrialSink, record: TrialRecord) -> None:
        self._sink = sink
        self._record = record
        self._should_stop = False
        self._resumed = record.state is TrialState.RUNNING and bool(record.reports)
        self._resume_step = record.last_step if self._resumed else None

    # -- what the training code reads ------------------------------------------------
    @property
    def id(self) -> int:
        return self._record.id

    @property
    def number(self) -> int:
        return self._record.number

    @property
    def params(self) -> dict[str, Any]:
        """The configuration to train; inactive conditional parameters are absent."""
        return dict(self._record.params)

    @property
    def fidelity(self) -> float | None:
        """The resource to train for (e.g. a number of epochs), or ``None`` for "full"."""
        return self._record.fidelity

    @property
    def state(self) -> TrialState:
        return self._record.state

    @property
    def is_finished(self) -> bool:
        """True once this run of the trial is over (finished, or PAUSED to resume later)."""
        return self._record.state.is_stopped

    @property
    def resume_step(self) -> int | None:
        """The step a resumed trial continues after (its last stored report when this
        handle was made), else ``None``.

        A promotion scheduler pauses trials at rungs and later resumes the best;
        training code that can restore its state continues from this step, and
        the curve continues at ``resume_step + 1``.
        """
        return self._resume_step

    @property
    def is_resumed(self) -> bool:
        """True when this run continues a trial that trained before (promoted from PAUSED,
        or requeued after an interruption); its curve continues after :attr:`resume_step`."""
        return self._resumed

    @property
    def checkpoint_dir(self) -> Path | None:
        """The folder this trial's checkpoints live in (created on the first save), or
        ``None`` when this process has none: ``$TUNEHOOKS_CHECKPOINT_DIR/<experiment>/<id>``
        (the sweep's ``checkpoint_dir``), else ``<run dir>/checkpoints`` under
        ``tunehooks launch``. It outlives the trial's process, so a resumed run (on any
        host that sees the folder) restores from it; see :mod:`tunehooks.checkpoint`."""
        from tunehooks.checkpoint import trial_checkpoint_dir

        name = getattr(self._sink, "name", None)
        return None if not isinstance(name, str) else trial_checkpoint_dir(name, self.id)

    @property
    def should_stop(self) -> bool:
        """True once the scheduler answered STOP or the trial finished."""
        return self._should_stop or self.is_finished

    @property
    def record(self) -> TrialRecord:
        return self._record

    def refresh(self) -> TrialRecord:
        """Re-read the trial from storage."""
        self._record = self._sink.read_trial(self.id)
        return self._record

    # -- what the training code does ------------------------------------------------
    def report(self, step: int, metrics: Mapping[str, Any]) -> Decision:
        """Report ``metrics`` at ``step`` and return the scheduler's decision.

        Reports are written in batches: at every decision point, once the
        oldest waiting one is ``exp.report_interval`` seconds old, and with the
        trial's end (see :mod:`tunehooks.report_buffer`). A non-finite value of any metric fails the
        trial (its state becomes FAILED, the error says which metric and step) and
        returns STOP.
        """
        return self._report_floats(step, _clean_metrics(metrics))

    def _report_floats(self, step: int, metrics: dict[str, float]) -> Decision:
        """:meth:`report` for metrics already converted to floats (the integrations')."""
        checked = check_step(step)  # refused here, before anything waits in a buffer
        if self._record.state.is_stopped:
            raise TrialStateError(
                f"trial {self.number} is already {self.state.value}; it accepts no more reports"
            )
        decision = self._sink.report_trial(self._record, checked, metrics)
        if decision is Decision.STOP:
            self._should_stop = True
            self.refresh()
        return decision

    def complete(self, values: Mapping[str, Any] | None = None) -> TrialRecord:
        """Finish the trial as COMPLETED with its final ``values``.

        Without ``values`` the last reported value of each metric is used. A
        non-finite optimized metric makes the trial FAILED instead.
        """
        clean = _clean_metrics(values) if values is not None else None
        self._record = self._sink.finish_trial(
            self.id, TrialState.COMPLETED, clean, None, known=self._record
        )
        return self._record

    def prune(self) -> TrialRecord:
        """Finish the trial as PRUNED (stopped early); its reports are kept.

        Under a promotion scheduler (one that resumes trials) the trial becomes
        PAUSED instead: stopped at its rung, to be resumed if it is promoted.
        """
        self._record = self._sink.finish_trial(
            self.id, TrialState.PRUNED, None, None, known=self._record
        )
        return self._record

    def interrupt(self, reason: str = "the training was interrupted") -> TrialRecord:
        """Stop this run to be resumed later: the trial becomes PAUSED (marked interrupted,
        its reports kept) and the next ask of its experiment resumes it, from its last
        checkpoint when it has one. What SIGTERM, Ctrl-C or a vanished worker leads to."""
        self._record = self._sink.finish_trial(
            self.id, TrialState.PAUSED, None, INTERRUPTED_PREFIX + reason, known=self._record
        )
        return self._record

    def fail(self, error: BaseException | str | None = None) -> TrialRecord:
        """Finish the trial as FAILED, keeping ``error``'s text."""
        text = _error_text(error)
        self._record = self._sink.finish_trial(
            self.id, TrialState.FAILED, None, text, known=self._record
        )
        return self._record

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, state={self.state.value}, params={self.params!r})"


def _error_text(error: BaseException | str | None) -> str:
    if error is None:
        return "failed"
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)
