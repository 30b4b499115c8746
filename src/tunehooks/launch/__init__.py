"""``tunehooks launch``: config-driven sweeps on every GPU of a machine, or of many.

Needs the ``launch`` extra (pyyaml, pydantic, rich): ``pip install "tunehooks[launch]"``.
"""

from __future__ import annotations

from tunehooks.launch._schema import SweepError
from tunehooks.launch.devices import Slot, detect_gpus, make_slots
from tunehooks.launch.dryrun import dry_run, first_commands
from tunehooks.launch.macros import MacroContext, MacroError, expand_command
from tunehooks.launch.output import OutputParser, ParsedReport
from tunehooks.launch.progress import LogProgress, RichProgress, SweepStats, make_progress
from tunehooks.launch.recovery import reclaim_stale_trials
from tunehooks.launch.runner import Launcher, LaunchResult
from tunehooks.launch.sweep import Sweep, load_sweep, parse_sweep

__all__ = [
    "LaunchResult",
    "Launcher",
    "LogProgress",
    "MacroContext",
    "MacroError",
    "OutputParser",
    "ParsedReport",
    "RichProgress",
    "Slot",
    "Sweep",
    "SweepError",
    "SweepStats",
    "detect_gpus",
    "dry_run",
    "expand_command",
    "first_commands",
    "load_sweep",
    "make_progress",
    "make_slots",
    "parse_sweep",
    "reclaim_stale_trials",
]
