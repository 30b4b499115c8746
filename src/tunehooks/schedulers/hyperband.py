"""Asynchronous Hyperband: several ASHA brackets with different first rungs."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from tunehooks.fidelity import Fidelity
from tunehooks.metrics import Metric
from tunehooks.schedulers._common import decision_metric, rung_between, rung_levels
from tunehooks.schedulers.asha import asha_decision
from tunehooks.schedulers.base import FirstRung, Scheduler
from tunehooks.trial import Decision, TrialRecord

__all__ = ["HyperbandScheduler", "bracket_weights"]


def bracket_weights(n_levels: int, eta: float) -> list[float]:
    """Share of new trials per bracket, as many as synchronous Hyperband starts in each.

    Bracket ``s`` (0 = most aggressive) first judges a trial at rung ``s``;
    the last bracket (``s = n_levels``) trains every trial fully.
    """
    top = n_levels
    raw = [(top + 1) / (s + 1) * eta ** (top - s) for s in range(top + 1)]
    total = sum(raw)
    return [w / total for w in raw]


@lru_cache(maxsize=64)
def _assignments(weights: tuple[float, ...], offset: int, n: int) -> tuple[int, ...]:
    # smooth weighted round robin: trial k goes to the bracket furthest below its share
    counts = [0] * len(weights)
    out: list[int] = []
    for k in range(n):
        deficit = [w * (k + 1 + offset) - c for w, c in zip(weights, counts, strict=True)]
        b = max(range(len(weights)), key=lambda i: (deficit[i], -i))
        counts[b] += 1
        out.append(b)
    return tuple(out)


class HyperbandScheduler(Scheduler):
    """Asynchronous Hyperband in stop mode (as in Li et al. 2020, Syne Tune's ``hyperband``).

    Trials are spread over brackets; bracket ``s`` applies the ASHA rule at the
    rungs ``min * eta**k`` for ``k >= s``, comparing a trial only with the
    trials of its own bracket. The bracket of a trial follows from its number
    (a deterministic weighted round robin in the proportions of synchronous
    Hyperband), so every process agrees on it without stored state, and no
    decision waits for a bracket or rung to fill. ``brackets`` caps how many
    of the most aggressive brackets are used.

    Example:
        >>> import tunehooks as th
        >>> s = HyperbandScheduler(th.Fidelity(min=1, max=27, eta=3, scheduler="hyperband"),
        ...                        [th.Metric("acc", "maximize")])
        >>> s.levels, s.bracket(0), s.bracket_min(1)
        ([1.0, 3.0, 9.0], 0, 3.0)
    """

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
        self.levels = rung_levels(fidelity.min_resource, fidelity.max_resource, fidelity.eta)
        n = len(self.levels) + 1
        if brackets is not None:
            if isinstance(brackets, bool) or not isinstance(brackets, int) or brackets < 1:
                raise ValueError(f"brackets must be a positive integer (got {brackets!r})")
            n = min(n, brackets)
        w = bracket_weights(len(self.levels), self.eta)[:n]
        self.weights = tuple(x / sum(w) for x in w)
        self.seed = int(seed)

    def bracket(self, number: int) -> int:
        """The bracket of trial ``number`` (0 = the most aggressive)."""
        offset = self.seed % 7
        return _assignments(self.weights, offset, number + 1)[number]

    def bracket_min(self, bracket: int) -> float:
        """The first resource level at which a trial of ``bracket`` can be stopped."""
        return self.levels[bracket] if bracket < len(self.levels) else self.fidelity.max_resource

    def decides(self, trial_number: int, step: float, previous_step: float | None) -> bool:
        """Whether a report at ``step`` is a decision point (a rung of the trial's bracket)."""
        levels = self.levels[self.bracket(trial_number) :]
        return rung_between(previous_step, step, levels) is not None

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> Decision:
        b = self.bracket(trial.number)
        peers = [t for t in history if self.bracket(t.number) == b]
        return asha_decision(trial, peers, metric=self.metric, levels=self.levels[b:], eta=self.eta)

    def first_rung(self) -> FirstRung | None:
        """The most aggressive bracket's first rung, where the top ``1/eta`` go on."""
        return FirstRung(self.levels[0], 1.0 / self.eta) if self.levels else None
