"""The report path of an experiment: a trial's reports, the scheduler's decisions on
them, and the trial's end (every report and end of a :class:`~tunehooks.Trial` handle
comes through here, by the experiment's :class:`~tunehooks.trial.TrialSink` methods).

Reports wait in the experiment's :class:`~tunehooks.report_buffer.ReportBuffer` of
the trial and are written at decision points, when due, and with the trial's end.

One rule for non-finite values, whatever the entry point (``trial.report``, an
integration's ``Reporter``, a launched program's report lines): a report with a NaN
or infinite value of any metric fails the trial at that report (the report is kept
with the end, the error names the metric and the step) and the answer is STOP.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tunehooks.report_buffer import ReportBuffer
from tunehooks.storage import StorageUnavailableError
from tunehooks.trial import Decision, Trial, TrialRecord, TrialState, TrialStateError

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment
    from tunehooks.storage import Storage

__all__ = [
    "abandon_trial",
    "diverged",
    "finish_trial",
    "first_non_finite",
    "flush_all",
    "flush_trial",
    "read_trial",
    "report_trial",
    "settle_trial",
    "worth_retrying",
    "write_at_exit",
]

_REPORT_RETRY = 1.0  # seconds a write on the report path retries before its reports wait


def first_non_finite(metrics: Mapping[str, float]) -> tuple[str, float] | None:
    """The first NaN or infinite metric, or None when all are finite.

    Example:
        >>> first_non_finite({"acc": 0.5, "loss": float("nan")})
        ('loss', nan)
    """
    for name, value in metrics.items():  # a plain loop: this runs every epoch
        if not math.isfinite(value):
            return name, value
    return None


def diverged(name: str, value: float, step: int) -> str:
    """The error of a trial failed by a non-finite report."""
    return (
        f"metric {name!r} is {value} at step {step}: the training diverged "
        "(a smaller learning rate may help)"
    )


def settle_trial(exp: Experiment, trial: Trial, failure: str | None = None) -> None:
    record = read_trial(exp, trial.id)
    if record.state is not TrialState.RUNNING:
        return
    if failure is not None:  # a training in the body raised (seen by an integration)
        finish_trial(exp, trial.id, TrialState.FAILED, None, failure)
    elif all(record.last_reported(m.name) is not None for m in exp.objectives):
        finish_trial(exp, trial.id, TrialState.COMPLETED, None, None)
    else:
        finish_trial(
            exp,
            trial.id,
            TrialState.FAILED,
            None,
            "the loop body neither completed nor reported this trial",
        )


def abandon_trial(exp: Experiment, trial: Trial, failure: str | None = None) -> None:
    with contextlib.suppress(TrialStateError):  # finished elsewhere: nothing to write
        flush_trial(exp, trial.id)
    record = exp.storage.get_trial(trial.id)
    if record.state is TrialState.RUNNING:
        finish_trial(
            exp,
            trial.id,
            TrialState.FAILED,
            None,
            failure
            or "the ask_loop() loop was left (an exception or break) before this trial "
            "was completed; call trial.complete() or trial.fail() inside the loop",
        )


def read_trial(exp: Experiment, trial_id: int) -> TrialRecord:
    flush_trial(exp, trial_id)
    return exp.storage.get_trial(trial_id)


def report_trial(
    exp: Experiment, record: TrialRecord, step: int, metrics: Mapping[str, float]
) -> Decision:
    trial_id = record.id
    buf = exp._buffers.get(trial_id)
    if buf is None:  # the handle's record is what storage held when it was handed out
        buf = ReportBuffer(record.number, record.last_step, knows_all=not record.reports)
        exp._buffers[trial_id] = buf
    previous = buf.last_step
    buf.add(step, metrics)
    bad = first_non_finite(metrics)
    if bad is not None:
        finish_trial(exp, trial_id, TrialState.FAILED, None, diverged(*bad, step))
        return Decision.STOP
    sched = exp.scheduler
    if not sched.needs_history or not sched.decides(buf.trial_number, step, previous):
        if buf.is_due(exp.report_interval):
            write_soon(exp, trial_id, buf)
        return Decision.CONTINUE
    # a decision point: every report of this process is in storage first (this
    # trial's own write raises when it was finished elsewhere; the others' never do)
    if not write_soon(exp, trial_id, buf):
        return Decision.CONTINUE  # the database is unavailable: decide at the next point
    flush_all(exp)
    history = exp.storage.get_trials(exp.id)
    current = next(t for t in history if t.id == trial_id)
    return sched.decide(current, history)


def write_soon(exp: Experiment, trial_id: int, buf: ReportBuffer) -> bool:
    """Write the trial's waiting reports; while the database is unavailable keep them
    (tried again after a backoff) and return False, for ``storage_timeout`` seconds."""
    now = time.monotonic()
    if now < buf.next_try:
        return False
    try:
        flush_trial(exp, trial_id, retry_for=_REPORT_RETRY)
    except StorageUnavailableError as e:
        if buf.write_failed(now, e.cause) >= exp.storage_timeout:
            raise StorageUnavailableError(
                f"{e}; {len(buf.pending)} reports of trial {buf.trial_number} could not "
                f"be written for {exp.storage_timeout:.0f}s",
                transient=e.transient,
                cause=e.cause,
            ) from None
        return False
    buf.write_worked()
    return True


def flush_trial(exp: Experiment, trial_id: int, *, retry_for: float | None = None) -> None:
    """Write the trial's reports that wait in memory (see :mod:`tunehooks.report_buffer`)."""
    buf = exp._buffers.get(trial_id)
    if buf is None or not buf.pending:
        return
    waiting = buf.take()
    try:
        exp.storage.add_reports(trial_id, waiting, retry_for=retry_for)
    except TrialStateError:
        raise  # finished elsewhere: it accepts no more reports
    except BaseException as e:
        if worth_retrying(e):  # the database is away: the next write retries them
            buf.put_back(waiting)
        raise  # anything else would fail again: it is raised once, never kept
    buf.write_worked()


def flush_all(exp: Experiment) -> None:
    """Write every trial's waiting reports; a trial finished elsewhere keeps them (its
    own next report or end is told so)."""
    for trial_id in list(exp._buffers):
        with contextlib.suppress(TrialStateError):
            flush_trial(exp, trial_id)


def finish_trial(
    exp: Experiment,
    trial_id: int,
    state: TrialState,
    values: Mapping[str, float] | None,
    error: str | None,
    *,
    known: TrialRecord | None = None,
) -> TrialRecord:
    """Finish the trial; ``known`` is the handle's snapshot of it (nothing is read back
    when every report went through this process)."""
    if state is TrialState.PRUNED and exp.scheduler.pauses:
        state = TrialState.PAUSED  # stopped at a rung: a promotion may resume it
    buf = exp._buffers.pop(trial_id, None)
    waiting = buf.take() if buf is not None else []  # written with the trial's end
    if state is TrialState.COMPLETED or (
        state in (TrialState.PRUNED, TrialState.PAUSED) and values is None
    ):
        if buf is not None and buf.knows_all:  # every report went through this process
            last = buf.latest
        else:
            record = exp.storage.get_trial(trial_id)
            if record.state.is_finished:
                raise TrialStateError(
                    f"trial {record.number} is already {record.state.value}; "
                    f"it cannot become {state.value}"
                )
            last = {
                m.name: v for m in exp.metrics if (v := record.last_reported(m.name)) is not None
            }
            for rep in waiting:  # newer than what is stored
                last.update(rep.metrics)
        merged = {m.name: last[m.name] for m in exp.metrics if m.name in last}
        merged.update(values or {})
        values = merged
        if state is TrialState.COMPLETED:
            problem = invalid_final(exp, values)
            if problem:
                state, error = TrialState.FAILED, problem
    snapshot = None
    if known is not None and buf is not None and buf.knows_all:
        # every report went through this process: the curve it kept is the stored one
        snapshot = dataclasses.replace(known, reports=tuple(buf.curve))
    try:
        return exp.storage.finish(trial_id, state, values, error, reports=waiting, known=snapshot)
    except TrialStateError:
        raise  # finished elsewhere: it accepts no more reports
    except BaseException as e:
        if buf is not None and worth_retrying(e):  # the database is away: keep them
            buf.put_back(waiting)
            exp._buffers[trial_id] = buf
        raise


def invalid_final(exp: Experiment, values: Mapping[str, float]) -> str | None:
    for m in exp.objectives:
        if m.name not in values:
            return (
                f"completed without a value for the optimized metric {m.name!r} "
                f"(got {sorted(values)}); pass it to complete() or report it"
            )
        if not math.isfinite(values[m.name]):
            return f"metric {m.name!r} is {values[m.name]}; a non-finite result cannot be best"
    return None


def worth_retrying(error: BaseException) -> bool:
    """Whether reports a write could not store are kept for the next write: when the
    database is unavailable (or the write was interrupted), never for an error that the
    same write would meet again, so a bad report can never block every later call."""
    return isinstance(error, StorageUnavailableError) or not isinstance(error, Exception)


def write_at_exit(buffers: dict[int, ReportBuffer], storage: Storage) -> None:
    """Write the reports still in memory when an experiment object goes away (or the
    interpreter exits); a failure is logged, never raised from a finalizer."""
    for trial_id, buf in list(buffers.items()):
        if buf.pending:
            try:
                storage.add_reports(trial_id, buf.take())
            except Exception as e:  # a finished trial, a closed database
                logging.getLogger("tunehooks").warning(
                    "reports of trial %s could not be written at exit: %s", buf.trial_number, e
                )
