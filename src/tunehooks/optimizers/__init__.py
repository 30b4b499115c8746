"""Optimizers: random, grid, Sobol and the default GP Bayesian optimizer
(:mod:`~tunehooks.optimizers.registry` maps method names to classes)."""

from __future__ import annotations

from tunehooks.optimizers.base import Method, Optimizer, OptimizerBase
from tunehooks.optimizers.registry import (
    MULTI_FIDELITY,
    OPTIMIZERS,
    make_optimizer,
    optimizer_class,
)

__all__ = [
    "MULTI_FIDELITY",
    "OPTIMIZERS",
    "Method",
    "Optimizer",
    "OptimizerBase",
    "make_optimizer",
    "optimizer_class",
]
