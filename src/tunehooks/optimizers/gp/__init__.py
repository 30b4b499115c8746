"""The GP Bayesian optimizer (``method="bayes"``) and its reusable building blocks.

* :class:`SpaceEncoder`: a search space to GP features (rounding, one-hot, inactive fill).
* :func:`robust_transform`, :func:`chebyshev_scalarize`, :func:`fill_failed`: targets.
* :func:`fit_gp` -> :class:`FittedGP`: an exact GP with priors, MAP-fitted.
* :func:`log_ei`, :func:`log_pof`, :func:`optimize_acquisition`: acquisition.
* :func:`limited_threads`: caps torch / BLAS threads during an ask, restoring them after.
* :class:`LogEHVI`, :func:`reference_point`: expected hypervolume improvement (k >= 2).
* :class:`GPOptimizer`: the optimizer that puts them together.
* :class:`MultiFidelityOptimizer`: the same GP over (configuration, fidelity), from every
  intermediate report (``method="bayes"`` with a fidelity that schedules trials).

Only this package imports torch and gpytorch; importing it is done lazily by
:func:`tunehooks.optimizers.make_optimizer`.
"""

from __future__ import annotations

from tunehooks.optimizers.gp.acquisition import (
    AcquisitionFunction,
    log_ei,
    log_pof,
    optimize_acquisition,
)
from tunehooks.optimizers.gp.encoding import SpaceEncoder
from tunehooks.optimizers.gp.model import FittedGP, fit_gp
from tunehooks.optimizers.gp.multifidelity import MultiFidelityOptimizer, fidelity_observations
from tunehooks.optimizers.gp.multiobjective import LogEHVI, pareto_rows, reference_point
from tunehooks.optimizers.gp.optimizer import GPOptimizer, default_n_initial, observations
from tunehooks.optimizers.gp.threads import limited_threads
from tunehooks.optimizers.gp.transforms import (
    chebyshev_scalarize,
    fill_failed,
    robust_transform,
    standardize,
)

__all__ = [
    "AcquisitionFunction",
    "FittedGP",
    "GPOptimizer",
    "LogEHVI",
    "MultiFidelityOptimizer",
    "SpaceEncoder",
    "chebyshev_scalarize",
    "default_n_initial",
    "fidelity_observations",
    "fill_failed",
    "fit_gp",
    "limited_threads",
    "log_ei",
    "log_pof",
    "observations",
    "optimize_acquisition",
    "pareto_rows",
    "reference_point",
    "robust_transform",
    "standardize",
]
