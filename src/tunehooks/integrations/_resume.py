"""Saving and restoring a trial's training: the part every integration shares.

:class:`Resumer` holds the decisions that do not depend on the framework: whether this
run of the trial resumes one that trained before and from which checkpoint (a missing
or unreadable one falls back to a fresh start, with a warning), when a report is one to
save at (``TUNEHOOKS_CHECKPOINT_EVERY``; never for a trial the scheduler stops for good),
and which finished trials' checkpoints are deleted (all but the best
``TUNEHOOKS_CHECKPOINT_KEEP``). The framework glue passes it two callables: one that
writes the framework's own files into a folder, one that reads them back.

Example:
    >>> is_interruption(KeyboardInterrupt()), is_interruption(RuntimeError("boom"))
    (True, False)
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tunehooks.checkpoint import (
    Checkpoint,
    CheckpointSettings,
    TrialCheckpoints,
    keep_best,
    trial_checkpoint_dir,
    warn_fresh_start,
)
from tunehooks.integrations._guards import portable_trial, reload_trial
from tunehooks.trial import Decision, TrialState

if TYPE_CHECKING:
    from tunehooks.trial import Trial

__all__ = ["Resumer", "StateSaver", "interruption_text", "is_interruption"]

_INTERRUPTIONS = {"KeyboardInterrupt", "SIGTERMException"}


class StateSaver(Protocol):
    """Writes a training's state into a folder (the framework's own files) and reads it back."""

    def save(self, folder: Path) -> None: ...

    def load(self, folder: Path) -> None: ...


def is_interruption(error: BaseException) -> bool:
    """True for an error that interrupts a training from outside (Ctrl-C; SIGTERM as
    Lightning raises it): the trial is paused to resume, not failed."""
    return any(c.__name__ in _INTERRUPTIONS for c in type(error).__mro__)


def interruption_text(error: BaseException) -> str:
    name = type(error).__name__
    how = (
        "SIGTERM"
        if name == "SIGTERMException"
        else "Ctrl-C"
        if name == "KeyboardInterrupt"
        else name
    )
    return f"the training got {how}; it resumes from its last checkpoint"


class Resumer:
    """Checkpoint decisions for one trial run (see the module)."""

    def __init__(self, trial: Trial, settings: CheckpointSettings | None = None) -> None:
        self.trial = trial
        self.settings = settings if settings is not None else CheckpointSettings.from_env()
        folder = trial.checkpoint_dir
        self.folder = None if folder is None else TrialCheckpoints(folder)
        self.reports = 0  # reports of this run
        self.last_saved: int | None = None

    def __getstate__(self) -> dict[str, Any]:  # type: ignore[override]  # ddp_spawn pickles it
        state = self.__dict__.copy()
        state["trial"] = portable_trial(state["trial"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["trial"] = reload_trial(state["trial"])
        self.__dict__.update(state)

    @property
    def enabled(self) -> bool:
        return self.folder is not None and self.settings.every > 0

    def checkpoint(self) -> Checkpoint | None:
        """The checkpoint this run restores: the newest one of a resumed trial, else None
        (with a warning when a resumed trial has none)."""
        if self.folder is None or not self.trial.is_resumed:
            return None
        found = self.folder.latest()
        if found is None:
            warn_fresh_start(self.trial.number, self.folder.path, "it has no checkpoint")
        return found

    def restore(self, load: Callable[[Path], None]) -> int | None:
        """Restore with ``load`` from :meth:`checkpoint`; the step restored (0: a resumed
        trial that starts afresh, its checkpoint missing or unreadable), None when this run
        is no resumption."""
        if not self.trial.is_resumed:
            return None
        found = self.checkpoint()
        if found is None:
            return 0
        try:
            load(found.path)
        except Exception as e:  # corrupt, or from another version: start afresh
            warn_fresh_start(
                self.trial.number,
                found.path,
                f"its checkpoint cannot be read ({type(e).__name__}: {e})",
            )
            return 0
        return found.step

    def due(self, decision: Decision) -> bool:
        """Count a report; True when a checkpoint is to be saved after it."""
        self.reports += 1
        if not self.enabled or not self.settings.due(self.reports):
            return False
        if decision is Decision.STOP and not self._pauses():
            return False  # pruned: it never resumes
        return not self.trial.state.is_finished  # failed (a NaN) or finished elsewhere: no

    def _pauses(self) -> bool:
        return bool(getattr(getattr(self.trial._sink, "scheduler", None), "pauses", False))

    def target(self, step: int) -> Path:
        """An empty folder for the save at ``step`` (commit it with :meth:`commit`)."""
        if self.folder is None:
            raise RuntimeError("this trial has no checkpoint folder")
        return self.folder.begin(step)

    def commit(self, step: int) -> None:
        if self.folder is not None:
            self.folder.commit(step)
            self.last_saved = step

    def save(self, step: int, write: Callable[[Path], None]) -> None:
        """Write a checkpoint at ``step`` with ``write`` (into an empty folder), then commit."""
        write(self.target(step))
        self.commit(step)

    def clean_finished(self) -> None:
        """Delete the checkpoints of the experiment's finished trials but the best k."""
        if self.folder is None:
            return
        with contextlib.suppress(Exception):  # cleaning is best effort: never fails a trial
            _clean(self.trial, self.settings.keep)


def _clean(trial: Trial, keep: int) -> None:
    exp = trial._sink
    name = getattr(exp, "name", None)
    if not isinstance(name, str):
        return
    history = exp.get_trials(with_reports=False)  # type: ignore[attr-defined]
    objectives = exp.objectives  # type: ignore[attr-defined]
    done = [t for t in history if t.state is TrialState.COMPLETED]
    if len(objectives) == 1:
        m = objectives[0]
        scored = [t for t in done if t.value(m.name) is not None]
        scored.sort(key=lambda t: (-m.sign * float(t.values[m.name]), t.number))
        best = [t.id for t in scored]
    else:  # several objectives: the newest k completed
        best = [t.id for t in sorted(done, key=lambda t: -t.number)]
    finished = [t.id for t in history if t.state.is_finished]
    for trial_id in keep_best(finished, best, keep=keep):
        path = trial_checkpoint_dir(name, trial_id)
        if path is not None and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
