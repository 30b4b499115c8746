"""Simulated training: replay recorded learning curves through a real experiment."""

from __future__ import annotations

from tunehooks.simulate.backend import Event, SimulationResult, simulate
from tunehooks.simulate.tabular import LearningCurves

__all__ = ["Event", "LearningCurves", "SimulationResult", "simulate"]
