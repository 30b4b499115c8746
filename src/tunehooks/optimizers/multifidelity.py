"""Deprecated: the multi-fidelity optimizer lives in :mod:`tunehooks.optimizers.gp.multifidelity`.

Importing this module warns; its names are those of the new module.
"""

from __future__ import annotations

import warnings

from tunehooks.optimizers.gp.multifidelity import MultiFidelityOptimizer, fidelity_observations

__all__ = ["MultiFidelityOptimizer", "fidelity_observations"]

warnings.warn(
    "tunehooks.optimizers.multifidelity is deprecated; import MultiFidelityOptimizer from "
    "tunehooks.optimizers.gp (or tunehooks.optimizers.gp.multifidelity)",
    DeprecationWarning,
    stacklevel=2,
)
