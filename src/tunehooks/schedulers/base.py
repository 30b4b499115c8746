"""The scheduler protocol: reports of all trials in, CONTINUE or STOP out. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tunehooks.trial import Decision, TrialRecord

__all__ = ["FirstRung", "NoScheduler", "Scheduler", "as_scheduler"]


@dataclass(frozen=True)
class FirstRung:
    """Where a rung rule first judges a new trial: at resource ``level``, about the top
    ``keep`` share of the trials there goes on (``1 / eta`` for ASHA).

    Example:
        >>> FirstRung(level=1.0, keep=1 / 3).keep
        0.3333333333333333
    """

    level: float
    keep: float


class Scheduler(Protocol):
    """Decides whether a running trial continues after its newest report.

    ``trial`` is the reporting trial with all its reports (the newest last);
    ``history`` holds every trial of the experiment with its reports.

    Only :meth:`decide` is required. The other members are optional
    capabilities with defaults; a scheduler that subclasses ``Scheduler``
    inherits them, and one that does not is completed by :func:`as_scheduler`
    when an experiment gets it:

    * ``needs_history`` (True): False for a scheduler that never stops a trial
      (the experiment then loads no history at all).
    * ``pauses`` (False): a trial the scheduler stops becomes PAUSED (kept for
      :meth:`promote`), not PRUNED.
    * :meth:`decides`: False when a report cannot change anything (between
      rungs), so the experiment answers CONTINUE without loading any trial.
    * :meth:`promote`: the PAUSED trial to resume before a new one starts.
    * :meth:`first_rung`: where a rung rule first judges a new trial (the
      multi-fidelity optimizer weighs a proposal by its chance to pass it).
    * :meth:`first_rung_trusted`: whether the first rung's ranking was seen to
      predict the next level's (the multi-fidelity optimizer then stops weighing
      a full-fidelity rival to its proposal).

    Example:
        >>> class StopAtThree(Scheduler):
        ...     def decide(self, trial, history):
        ...         return Decision.STOP if trial.reports[-1].step >= 3 else Decision.CONTINUE
        >>> s = StopAtThree()
        >>> s.needs_history, s.pauses, s.decides(0, 1, None), s.first_rung()
        (True, False, True, None)
        >>> s.first_rung_trusted([]) is None
        True
    """

    needs_history: bool = True
    pauses: bool = False

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision: ...

    def decides(self, trial_number: int, step: float, previous_step: float | None) -> bool:
        """Whether a report at ``step`` (after ``previous_step``, ``None`` for the first)
        is a decision point; the default: every report is."""
        return True

    def promote(self, history: Sequence[TrialRecord], *, more_trials: bool) -> TrialRecord | None:
        """The PAUSED trial to resume next (``None``: start a new trial). ``more_trials``:
        whether new trials may still start. The default never resumes one."""
        return None

    def first_rung(self) -> FirstRung | None:
        """Where a new trial is first judged by a top-share rule; ``None`` (the default):
        the scheduler does not stop new trials at a rung that way."""
        return None

    def first_rung_trusted(self, history: Sequence[TrialRecord]) -> bool | None:
        """Whether the ranking at the first rung was measured to predict the next level's
        (``False`` also while it is not measured yet); ``None`` (the default): the
        scheduler does not measure it."""
        return None


class NoScheduler(Scheduler):
    """Never stops a trial; every trial trains at full fidelity.

    Example:
        >>> NoScheduler().needs_history
        False
    """

    needs_history = False

    def __init__(
        self, fidelity: object = None, metrics: Sequence[object] = (), *, seed: int = 0
    ) -> None:
        pass  # the registry's signature; nothing to keep

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        return Decision.CONTINUE


def as_scheduler(scheduler: Any) -> Scheduler:
    """``scheduler`` with every optional member of :class:`Scheduler`.

    A subclass of :class:`Scheduler` is returned as it is; an object that only
    has some of the members (a duck-typed custom rule, a scripted one in
    tests) is wrapped so the missing ones take their defaults. Its other
    attributes stay reachable through the wrapper.

    Example:
        >>> class Never:
        ...     def decide(self, trial, history):
        ...         return Decision.CONTINUE
        >>> s = as_scheduler(Never())
        >>> s.pauses, s.decides(0, 1.0, None), s.promote([], more_trials=True)
        (False, True, None)
    """
    if Scheduler in type(scheduler).__mro__:
        return scheduler  # type: ignore[no-any-return]
    if not callable(getattr(scheduler, "decide", None)):
        raise TypeError(
            f"scheduler: expected an object with decide(trial, history) "
            f"(got {type(scheduler).__name__}); subclass tunehooks.schedulers.Scheduler"
        )
    return _Completed(scheduler)


class _Completed(Scheduler):
    """A duck-typed scheduler with the defaults of the members it lacks."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.needs_history = bool(getattr(inner, "needs_history", True))
        self.pauses = bool(getattr(inner, "pauses", False))
        self._decides = getattr(inner, "decides", None)
        self._promote = getattr(inner, "promote", None)
        self._first_rung = getattr(inner, "first_rung", None)
        self._first_rung_trusted = getattr(inner, "first_rung_trusted", None)

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        decision: Decision = self.inner.decide(trial, history)
        return decision

    def decides(self, trial_number: int, step: float, previous_step: float | None) -> bool:
        if self._decides is None:
            return True
        return bool(self._decides(trial_number, step, previous_step))

    def promote(self, history: Sequence[TrialRecord], *, more_trials: bool) -> TrialRecord | None:
        if self._promote is None:
            return None
        pick: TrialRecord | None = self._promote(history, more_trials=more_trials)
        return pick

    def first_rung(self) -> FirstRung | None:
        rung: FirstRung | None = None if self._first_rung is None else self._first_rung()
        return rung

    def first_rung_trusted(self, history: Sequence[TrialRecord]) -> bool | None:
        if self._first_rung_trusted is None:
            return None
        trusted = self._first_rung_trusted(history)
        return None if trusted is None else bool(trusted)

    def __getattr__(self, name: str) -> Any:  # the custom rule's own attributes
        if name == "inner":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)
