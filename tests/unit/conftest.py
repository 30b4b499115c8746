"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tunehooks.simulate import LearningCurves


@pytest.fixture
def ranked_table() -> Callable[..., LearningCurves]:
    """A maker of learning-curve tables whose configurations rank alike at every epoch:
    configuration ``i`` (one integer parameter) rises towards its quality, a seeded
    permutation of ``0, 1/n, ..., (n-1)/n``."""

    def make(n: int = 27, epochs: int = 9, *, seed: int = 0) -> LearningCurves:
        quality = np.random.default_rng(seed).permutation(n) / n
        curves = np.array([[q * (1 - 0.5 / e) for e in range(1, epochs + 1)] for q in quality])
        return LearningCurves({"i": list(range(n))}, configs=np.arange(n)[:, None], curves=curves)

    return make
