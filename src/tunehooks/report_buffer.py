"""The reports of one running trial that this process has not written yet.

Writing every epoch's metrics in its own transaction costs more than a short
epoch's share allows, so an experiment keeps a trial's reports here between
decision points and writes them together: at every report a scheduler decides
on (a rung), when the oldest unwritten report is ``interval`` seconds old,
and before anything reads or finishes the trial. A process that is killed
loses at most those seconds of its own trial's curve; no other trial's data
is ever at risk.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from tunehooks.trial import Report

__all__ = ["DEFAULT_REPORT_INTERVAL", "ReportBuffer"]

DEFAULT_REPORT_INTERVAL = 1.0
"""Seconds a report may wait in memory before it is written (decision points never wait)."""


@dataclass
class ReportBuffer:
    """Unwritten reports of one trial, and what the process knows of its curve.

    ``last_step`` is the newest step reported (written or not), so a scheduler
    can tell a rung crossing without reading storage. When ``knows_all`` (this
    process saw every report of the trial, in order) ``latest`` holds the last
    value of every metric and ``curve`` every report: the trial's end then
    needs nothing read back.

    Example:
        >>> buf = ReportBuffer(trial_number=3, last_step=1, knows_all=True)
        >>> buf.add(2, {"acc": 0.5}); buf.add(3, {"acc": 0.6, "loss": 0.4})
        >>> buf.last_step, buf.latest, buf.is_due(60.0)
        (3, {'acc': 0.6, 'loss': 0.4}, False)
        >>> [r.step for r in buf.take()], buf.pending
        ([2, 3], [])
    """

    trial_number: int
    last_step: int | None
    knows_all: bool
    pending: list[Report] = field(default_factory=list)
    latest: dict[str, float] = field(default_factory=dict)
    curve: list[Report] = field(default_factory=list)
    oldest_at: float | None = None
    failing_since: float | None = None
    """When writes of these reports began to fail on an unavailable database (monotonic)."""
    next_try: float = 0.0
    """No write is tried before this time (monotonic) while the database is unavailable."""
    failure: str = ""
    """Why the last write failed (the driver's message)."""

    def write_failed(self, now: float, cause: str = "") -> float:
        """Note a write that found the database unavailable; return how long writes
        have failed. The next try waits for a backoff of 1 s, growing to 30 s."""
        self.failure = cause
        if self.failing_since is None:
            self.failing_since = now
        failing = now - self.failing_since
        self.next_try = now + min(30.0, max(1.0, failing / 2))
        return failing

    def write_worked(self) -> None:
        self.failing_since = None
        self.next_try = 0.0

    def add(self, step: int, metrics: Mapping[str, float]) -> None:
        """Keep a report for the next write."""
        if not self.pending:
            self.oldest_at = time.monotonic()
        report = Report(step, metrics, time.time())
        self.pending.append(report)
        self.seen(report)

    def seen(self, report: Report) -> None:
        """Note a report (written or not) as the newest of the curve."""
        step = report.step
        if self.last_step is not None and step <= self.last_step:
            self.knows_all = False  # a step rewritten: ``latest`` may not be the curve's end
            self.curve.clear()
        if self.last_step is not None and step < self.last_step:
            return
        self.last_step = step
        self.latest.update(report.metrics)
        if self.knows_all:
            self.curve.append(report)

    def is_due(self, interval: float) -> bool:
        """Whether the oldest unwritten report has waited ``interval`` seconds."""
        return self.oldest_at is not None and time.monotonic() - self.oldest_at >= interval

    def take(self) -> list[Report]:
        """The unwritten reports, in order; the buffer is empty afterwards."""
        out, self.pending, self.oldest_at = self.pending, [], None
        return out

    def put_back(self, reports: list[Report]) -> None:
        """Return reports a write did not store (e.g. the database stayed locked) to the
        front of the buffer, so the next write tries them again.

        Example:
            >>> buf = ReportBuffer(trial_number=0, last_step=None, knows_all=True)
            >>> buf.add(1, {"acc": 0.1}); taken = buf.take(); buf.add(2, {"acc": 0.2})
            >>> buf.put_back(taken); [r.step for r in buf.pending]
            [1, 2]
        """
        if reports:
            self.pending[:0] = reports
            self.oldest_at = min(self.oldest_at or time.monotonic(), time.monotonic())
