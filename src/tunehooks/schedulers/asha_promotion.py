"""Asynchronous successive halving in promotion mode: pause at every rung, resume the top.

A trial stops at each rung ``min * eta**k`` below ``max`` and becomes PAUSED
(its curve kept). Whenever a worker asks for work, the paused trial that is
in the top ``1/eta`` of everything that reached its rung so far, and was not
resumed from there yet, is resumed to the next rung (the deepest rungs
first, then the best); otherwise a new trial starts. Nothing waits for a rung
to fill (Li et al. 2020, "promotion" ASHA; Syne Tune's ``type="promotion"``).
A resumed trial continues its curve, so it pays only the new epochs when the
training restores its checkpoint (``Trial.resume_step``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tunehooks.schedulers._common import crossed_rung, score_at
from tunehooks.schedulers.asha import ASHAScheduler
from tunehooks.schedulers.base import FirstRung
from tunehooks.trial import Decision, TrialRecord, TrialState

__all__ = ["ASHAPromotionScheduler"]


class ASHAPromotionScheduler(ASHAScheduler):
    """ASHA, promotion mode: every rung pauses; ``promote`` resumes the rung's top ``1/eta``.

    Example:
        >>> import tunehooks as th
        >>> from tunehooks.trial import Report
        >>> s = ASHAPromotionScheduler(th.Fidelity(min=1, max=9, eta=3), [th.Metric("acc", "maximize")])
        >>> t = [th.TrialRecord(i, i, th.TrialState.PAUSED, {}, fidelity=9,
        ...      reports=(Report(1, {"acc": i / 10}),)) for i in range(2)]
        >>> s.promote(t, more_trials=True) is None  # the top third of two trials: none yet
        True
        >>> s.promote([*t, t[0]], more_trials=True).number  # (three at the rung)
        1
    """

    pauses = True

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        """STOP (the trial pauses) when the newest report reached a rung."""
        return Decision.CONTINUE if crossed_rung(trial, self.levels) is None else Decision.STOP

    def first_rung(self) -> FirstRung | None:
        """``None``: a rung pauses every trial (none is stopped there for good)."""
        return None

    def promote(self, history: Sequence[TrialRecord], *, more_trials: bool) -> TrialRecord | None:
        """The PAUSED trial to resume next (``None``: start a new trial).

        Without new trials to come (``more_trials`` false) each rung passes at
        least its best trial on, so a spent trial budget still ends in a full
        training.
        """
        paused = [t for t in history if t.state is TrialState.PAUSED]
        if not paused:
            return None
        for k in range(len(self.levels) - 1, -1, -1):
            level = self.levels[k]
            nxt = self.levels[k + 1] if k + 1 < len(self.levels) else math.inf
            scores: list[float] = []
            waiting: list[tuple[float, int, TrialRecord]] = []
            for t in history:
                s = score_at(t, self.metric, level) if t.state is not TrialState.QUEUED else None
                if s is None:
                    continue
                scores.append(s)
                if t.state is TrialState.PAUSED and (t.last_step or 0) < nxt - 1e-9:
                    waiting.append((s, -t.number, t))
            if not waiting:
                continue
            keep = math.floor(len(scores) / self.eta + 1e-9)
            if not more_trials:  # nothing new to come: each rung still passes one on
                keep = max(1, keep)
            top = sorted(scores, reverse=True)[:keep]
            best = max(waiting)
            if top and best[0] >= top[-1]:  # in the rung's top 1/eta, not resumed yet
                return best[2]
        return None
