"""Synchronous Hyperband with promotion: trials pause at rungs, the best resume.

Successive halving judges a rung only once every trial of the bracket has
reached it: ``n`` configurations train to the first rung and pause (PAUSED,
their curves kept), then the best ``n / eta`` of them resume to the next
rung, and so on up to a full training. Brackets follow one another as in
Hyperband (Li et al. 2018), from the most aggressive (many trials, first
rung at ``min``) to full trainings only, so a table whose early epochs
mislead still gets configurations judged later. A resumed trial continues
its curve: it pays only the new epochs when the training restores its
checkpoint (see ``Trial.resume_step``).

Everything follows from the history and the trial numbers: trial ``k``'s
bracket comes from ``k`` (consecutive numbers fill the brackets in turn), and
a promotion is computed from the reports, so any process, any number of
workers, agrees on it without stored scheduler state. With several workers,
no worker waits for a rung: while a bracket's rung is incomplete, new trials
of the next bracket start.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tunehooks.fidelity import Fidelity
from tunehooks.metrics import Metric
from tunehooks.schedulers._common import decision_metric, rung_between, score_at
from tunehooks.schedulers.base import Scheduler
from tunehooks.trial import Decision, TrialRecord, TrialState

__all__ = ["Bracket", "PromotionHyperbandScheduler", "hyperband_brackets"]


@dataclass(frozen=True)
class Bracket:
    """One successive-halving bracket: ``size`` trials, paused at each of ``rungs``.

    Example:
        >>> b = Bracket(size=9, rungs=(1.0, 3.0))
        >>> [b.size // 3**k for k in range(len(b.rungs) + 1)]  # trials at each rung, then full
        [9, 3, 1]
    """

    size: int
    rungs: tuple[float, ...]  # resource levels below the full one, ascending


def hyperband_brackets(fidelity: Fidelity, *, brackets: int | None = None) -> list[Bracket]:
    """Hyperband's brackets for ``fidelity``, the most aggressive first.

    The rungs are ``min * eta**k`` while ``eta`` times the rung still fits in
    ``max``; bracket ``s`` (``s`` rungs) starts ``ceil((S + 1) / (s + 1) * eta**s)``
    trials, ``S`` the number of rungs of the first bracket. ``brackets`` keeps
    only that many of the most aggressive brackets.

    Example:
        >>> [(b.size, b.rungs) for b in hyperband_brackets(Fidelity(min=1, max=30, eta=3))]
        [(27, (1.0, 3.0, 9.0)), (12, (3.0, 9.0)), (6, (9.0,)), (4, ())]
    """
    eta = fidelity.eta
    levels: list[float] = []
    r = fidelity.min_resource
    while r * eta <= fidelity.max_resource * (1 + 1e-9):
        levels.append(r)
        r *= eta
    top = len(levels)
    out = [
        Bracket(math.ceil((top + 1) / (s + 1) * eta**s - 1e-9), tuple(levels[top - s :]))
        for s in range(top, -1, -1)
    ]
    if brackets is not None:
        if isinstance(brackets, bool) or not isinstance(brackets, int) or brackets < 1:
            raise ValueError(f"brackets must be a positive integer (got {brackets!r})")
        out = out[:brackets]
    return out


class PromotionHyperbandScheduler(Scheduler):
    """Synchronous Hyperband in promotion mode: pause at every rung, resume the best.

    ``decide`` answers STOP at each rung of the trial's bracket (the trial
    becomes PAUSED); ``promote`` names the PAUSED trial to resume next, once
    its rung is complete (every trial of the bracket reached it, or no new
    trial can start), best first, the deepest rungs first.

    Example:
        >>> import tunehooks as th
        >>> from tunehooks.trial import Report
        >>> s = PromotionHyperbandScheduler(th.Fidelity(min=1, max=9, eta=3), [th.Metric("acc", "maximize")])
        >>> [(b.size, b.rungs) for b in s.brackets]
        [(9, (1.0, 3.0)), (5, (3.0,)), (3, ())]
        >>> t = [th.TrialRecord(i, i, th.TrialState.PAUSED, {}, fidelity=9,
        ...      reports=(Report(1, {"acc": i / 10}),)) for i in range(9)]
        >>> s.promote(t, more_trials=True).number  # the best of the rung's top third
        8
        >>> s.promote(t[:5], more_trials=True) is None  # the bracket is not filled yet
        True
    """

    pauses = True

    def __init__(
        self,
        fidelity: Fidelity,
        metrics: Sequence[Metric],
        *,
        seed: int = 0,
        brackets: int | None = None,
    ) -> None:
        self.fidelity = fidelity
        self.metric = decision_metric(fidelity, metrics)
        self.eta = fidelity.eta
        self.brackets = hyperband_brackets(fidelity, brackets=brackets)
        self.seed = int(seed)
        self._round = sum(b.size for b in self.brackets)

    # -- bracket membership -------------------------------------------------------------
    def bracket_of(self, number: int) -> tuple[int, int]:
        """(instance, bracket index) of trial ``number``: consecutive numbers fill brackets."""
        rnd, k = divmod(number, self._round)
        for i, b in enumerate(self.brackets):
            if k < b.size:
                return rnd * len(self.brackets) + i, i
            k -= b.size
        raise AssertionError("unreachable")  # pragma: no cover

    def rungs_of(self, number: int) -> tuple[float, ...]:
        return self.brackets[self.bracket_of(number)[1]].rungs

    # -- the scheduler protocol ---------------------------------------------------------
    def decides(self, trial_number: int, step: float, previous_step: float | None) -> bool:
        """Whether a report at ``step`` reaches a rung of the trial's bracket."""
        return rung_between(previous_step, step, self.rungs_of(trial_number)) is not None

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        if not trial.reports:
            return Decision.CONTINUE
        step = trial.reports[-1].step
        prev = trial.reports[-2].step if len(trial.reports) > 1 else None
        crossed = rung_between(prev, step, self.rungs_of(trial.number))
        return Decision.CONTINUE if crossed is None else Decision.STOP

    def promote(self, history: Sequence[TrialRecord], *, more_trials: bool) -> TrialRecord | None:
        """The PAUSED trial to resume next, or ``None`` (start a new trial, or nothing).

        ``more_trials``: whether new trials may still start (else an unfilled
        bracket is judged with the trials it has).
        """
        if not any(t.state is TrialState.PAUSED for t in history):
            return None
        groups: dict[int, list[TrialRecord]] = {}
        for t in history:
            if t.state is not TrialState.QUEUED:
                groups.setdefault(self.bracket_of(t.number)[0], []).append(t)
        for instance in sorted(groups):
            members = groups[instance]
            bracket = self.brackets[self.bracket_of(members[0].number)[1]]
            filled = len(members) >= bracket.size or not more_trials
            if not filled:
                continue
            pick = self._promotion_in(members, bracket)
            if pick is not None:
                return pick
        return None

    def _promotion_in(self, members: Sequence[TrialRecord], bracket: Bracket) -> TrialRecord | None:
        """The next trial of one (filled) bracket to resume, rung by rung from the first.

        The population of the first rung is every member; a rung is judged once
        no member of its population still trains below it; its best ``1/eta``
        (at least one) form the next rung's population, and those of them still
        PAUSED below the next rung are the ones to resume, the best first.
        """
        population = list(members)
        for i, level in enumerate(bracket.rungs):
            waiting: list[tuple[float, TrialRecord]] = []
            training = False
            for t in population:
                last = t.last_step if t.last_step is not None else -math.inf
                if last >= level - 1e-9 or t.state.is_finished:
                    continue
                if t.state is TrialState.RUNNING:
                    training = True  # the rung is not complete yet
                elif i > 0 and t.state is TrialState.PAUSED:  # promoted here, not resumed yet
                    waiting.append((self._score(t, bracket.rungs[i - 1]), t))
            if waiting:
                return max(waiting, key=lambda w: (w[0], -w[1].number))[1]
            if training:
                return None
            ranked = sorted(population, key=lambda t: (self._score(t, level), -t.number))
            keep = max(1, math.floor(len(population) / self.eta + 1e-9))
            population = ranked[::-1][:keep]
        top = [t for t in population if t.state is TrialState.PAUSED]
        if not top or not bracket.rungs:
            return None
        return max(top, key=lambda t: (self._score(t, bracket.rungs[-1]), -t.number))

    def _score(self, t: TrialRecord, level: float) -> float:
        if t.state is TrialState.FAILED:
            return -math.inf
        score = score_at(t, self.metric, level)
        return -math.inf if score is None else score
