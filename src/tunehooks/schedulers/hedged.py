"""Hedged successive halving: promotion ASHA that trusts a rung only as far as it predicts.

Trials pause (PAUSED, their curves kept) at the rungs of Hyperband's ladder
``min * eta**k`` (while ``eta`` times the rung still fits in ``max``: 1, 3 and 9
for ``min=1, max=30, eta=3``, so no rung sits just below a full training); when
a worker asks for work, a paused trial in the top fraction of everything that
reached its rung is resumed to the next one, the deepest rungs first, else a
new trial starts. Nothing waits for a rung to fill.

The hedge: how far a rung's ranking is followed is measured on the run's own
data. For each rung, the rank correlation (Spearman) between the values there
and at the next rung, over the trials that reached both, is the rung's
**trust**. A rung whose trust reaches ``trust`` promotes the usual ``1/eta``;
below it the promoted fraction grows, ``eta ** -(rho / trust)``, up to every
trial at a trust of 0 or less (the rung then only costs a pause). Until
``min_pairs`` trials reached both rungs the rung promotes ``1/eta``. So a table
whose early epochs mislead (curves that cross late: warm-up, learning-rate
decay, label noise) is judged later, and one whose early epochs predict well
keeps successive halving's savings.

Pure: every decision follows from the history (the reports, the states), so
any process, any number of workers, agrees without stored scheduler state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tunehooks.fidelity import Fidelity
from tunehooks.metrics import Metric
from tunehooks.schedulers._common import crossed_rung, decision_metric, rung_between, score_at
from tunehooks.schedulers.base import Scheduler
from tunehooks.trial import Decision, TrialRecord, TrialState

__all__ = ["HedgedScheduler", "ladder", "rank_correlation"]


def ladder(fidelity: Fidelity) -> list[float]:
    """Hyperband's rung levels: ``min * eta**k`` while ``eta`` times the level fits in ``max``.

    Example:
        >>> ladder(Fidelity(min=1, max=30, eta=3)), ladder(Fidelity(min=1, max=27, eta=3))
        ([1.0, 3.0, 9.0], [1.0, 3.0, 9.0])
    """
    levels: list[float] = []
    r = fidelity.min_resource
    while r * fidelity.eta <= fidelity.max_resource * (1 + 1e-9):
        levels.append(r)
        r *= fidelity.eta
    return levels


def _ranks(xs: Sequence[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):  # ties share their mean rank
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    return ranks


def rank_correlation(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation (ties ranked by their mean); ``None`` when undefined.

    Example:
        >>> rank_correlation([1, 2, 3, 4], [10, 20, 30, 40]), rank_correlation([1, 2, 3], [3, 2, 1])
        (1.0, -1.0)
        >>> rank_correlation([1, 1, 1], [1, 2, 3]) is None  # no spread in one of them
        True
    """
    if len(xs) != len(ys) or len(xs) < 2:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx <= 0 or syy <= 0:
        return None
    return sxy / math.sqrt(sxx * syy)


class HedgedScheduler(Scheduler):
    """Promotion-mode successive halving whose rungs promote more when they predict less.

    ``decide`` answers STOP (the trial pauses) at each rung of :func:`ladder`;
    ``promote`` names the PAUSED trial to resume next (see the module's
    description), or ``None`` for a new trial.

    Args:
        fidelity: the experiment's fidelity settings (``min``, ``max``, ``eta``).
        metrics: the experiment's metrics (the decision metric follows ``fidelity``).
        seed: unused (decisions are deterministic); accepted like every scheduler's.
        trust: the rank correlation from which a rung promotes only ``1/eta``.
        min_pairs: trials that must have reached a rung and the next before its
            trust is measured.

    Example:
        >>> import tunehooks as th
        >>> from tunehooks.trial import Report
        >>> s = HedgedScheduler(th.Fidelity(min=1, max=9, eta=3), [th.Metric("acc", "maximize")])
        >>> s.levels
        [1.0, 3.0]
        >>> t = [th.TrialRecord(i, i, th.TrialState.PAUSED, {}, fidelity=9,
        ...      reports=(Report(1, {"acc": i / 10}),)) for i in range(3)]
        >>> s.promote(t[:2], more_trials=True) is None  # the top third of two trials: none
        True
        >>> s.promote(t, more_trials=True).number
        2
    """

    needs_history = True
    pauses = True
    second_opinion = False  # the model's overrides cost epochs here (docs/multifidelity.md)

    def __init__(
        self,
        fidelity: Fidelity,
        metrics: Sequence[Metric],
        *,
        seed: int = 0,
        trust: float = 0.7,
        min_pairs: int = 5,
    ) -> None:
        if not 0.0 < trust <= 1.0:
            raise ValueError(f"trust must lie in (0, 1] (got {trust!r})")
        if isinstance(min_pairs, bool) or not isinstance(min_pairs, int) or min_pairs < 3:
            raise ValueError(f"min_pairs must be an integer >= 3 (got {min_pairs!r})")
        self.fidelity = fidelity
        self.metric = decision_metric(fidelity, metrics)
        self.eta = fidelity.eta
        self.levels = ladder(fidelity)
        self.seed = int(seed)
        self.trust = float(trust)
        self.min_pairs = int(min_pairs)

    # -- the scheduler protocol ---------------------------------------------------------
    def decides(self, trial_number: int, step: float, previous_step: float | None) -> bool:
        """Whether a report at ``step`` reaches a rung (where the trial pauses)."""
        return rung_between(previous_step, step, self.levels) is not None

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        """STOP (the trial pauses) when the newest report reached a rung."""
        return Decision.CONTINUE if crossed_rung(trial, self.levels) is None else Decision.STOP

    # -- the hedge ----------------------------------------------------------------------
    def rung_trust(self, k: int, history: Sequence[TrialRecord]) -> float | None:
        """Rank correlation of the values at rung ``k`` and at the next level (the next rung,
        or the full training after the last), over the trials that reached both;
        ``None`` with fewer than ``min_pairs`` of them."""
        nxt = self.levels[k + 1] if k + 1 < len(self.levels) else self.fidelity.max_resource
        xs: list[float] = []
        ys: list[float] = []
        for t in history:
            if t.state in (TrialState.QUEUED, TrialState.FAILED):
                continue
            b = score_at(t, self.metric, nxt)
            a = score_at(t, self.metric, self.levels[k]) if b is not None else None
            if a is not None and b is not None and math.isfinite(a) and math.isfinite(b):
                xs.append(a)
                ys.append(b)
        if len(xs) < self.min_pairs:
            return None
        return rank_correlation(xs, ys)

    def first_rung_trusted(self, history: Sequence[TrialRecord]) -> bool:
        """Whether rung 1's measured trust reached ``trust`` (``False`` while unmeasured).

        Example:
            >>> import tunehooks as th
            >>> s = HedgedScheduler(th.Fidelity(min=1, max=27, eta=3), [th.Metric("a", "maximize")])
            >>> s.first_rung_trusted([])
            False
        """
        rho = self.rung_trust(0, history)
        return rho is not None and rho >= self.trust

    def keep_fraction(self, trust: float | None) -> float:
        """The share of a rung promoted, given its measured trust (``None``: not measured).

        Example:
            >>> import tunehooks as th
            >>> s = HedgedScheduler(th.Fidelity(min=1, max=27, eta=3), [th.Metric("a", "maximize")])
            >>> [round(s.keep_fraction(r), 3) for r in (None, 0.9, 0.25, -0.2)]
            [0.333, 0.333, 0.675, 1.0]
        """
        if trust is None or trust >= self.trust:
            return 1.0 / self.eta
        return float(self.eta ** -(max(0.0, trust) / self.trust))

    def promote(self, history: Sequence[TrialRecord], *, more_trials: bool) -> TrialRecord | None:
        """The PAUSED trial to resume next (``None``: start a new trial).

        Without new trials to come (``more_trials`` false) each rung passes at
        least its best trial on, so a spent trial budget still ends in a full
        training.
        """
        if not any(t.state is TrialState.PAUSED for t in history):
            return None
        for k in range(len(self.levels) - 1, -1, -1):
            level = self.levels[k]
            nxt = self.levels[k + 1] if k + 1 < len(self.levels) else math.inf
            scores: list[float] = []
            waiting: list[tuple[float, int, TrialRecord]] = []
            for t in history:
                if t.state is TrialState.QUEUED:
                    continue
                s = score_at(t, self.metric, level)
                if s is None:
                    continue
                scores.append(s)
                if t.state is TrialState.PAUSED and (t.last_step or 0) < nxt - 1e-9:
                    waiting.append((s, -t.number, t))
            if not waiting:
                continue
            frac = self.keep_fraction(self.rung_trust(k, history))
            keep = math.floor(len(scores) * frac + 1e-9)
            if not more_trials:  # nothing new to come: each rung still passes one on
                keep = max(1, keep)
            top = sorted(scores, reverse=True)[:keep]
            best = max(waiting)
            if top and best[0] >= top[-1]:  # in the rung's top share, not resumed yet
                return best[2]
        return None
