"""Early-stopping schedulers: none, median rule, ASHA, Hyperband (stop and promotion modes);
a model's second opinion. :mod:`~tunehooks.schedulers.registry` maps names to classes."""

from __future__ import annotations

from tunehooks.schedulers.asha import ASHAScheduler
from tunehooks.schedulers.asha_promotion import ASHAPromotionScheduler
from tunehooks.schedulers.base import FirstRung, NoScheduler, Scheduler, as_scheduler
from tunehooks.schedulers.hedged import HedgedScheduler
from tunehooks.schedulers.hyperband import HyperbandScheduler
from tunehooks.schedulers.median import MedianScheduler
from tunehooks.schedulers.model_guided import (
    DEFAULT_CONTINUE_CHANCE,
    ChanceToWin,
    ModelGuidedScheduler,
)
from tunehooks.schedulers.promotion import PromotionHyperbandScheduler
from tunehooks.schedulers.registry import SCHEDULERS, make_scheduler

__all__ = [
    "DEFAULT_CONTINUE_CHANCE",
    "SCHEDULERS",
    "ASHAPromotionScheduler",
    "ASHAScheduler",
    "ChanceToWin",
    "FirstRung",
    "HedgedScheduler",
    "HyperbandScheduler",
    "MedianScheduler",
    "ModelGuidedScheduler",
    "NoScheduler",
    "PromotionHyperbandScheduler",
    "Scheduler",
    "as_scheduler",
    "make_scheduler",
]
