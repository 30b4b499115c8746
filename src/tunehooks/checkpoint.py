"""Where a trial's checkpoints live, which one a resumed trial restores, which are deleted.

Pure file-system logic, no framework: the integrations write their framework's own
files (Lightning's ``.ckpt``, Keras ``.weights.h5``, ``torch.save`` of state dicts,
MXNet params) into a folder this module hands out, and tunehooks pickles nothing.

Layout: a trial's checkpoint folder is

- ``$TUNEHOOKS_CHECKPOINT_DIR/<experiment>/<trial id>/`` when that variable is set
  (the sweep's ``checkpoint_dir``; a shared file system serves many machines), else
- ``<run dir>/checkpoints/`` under ``tunehooks launch`` (``runs/<experiment>/<trial id>/``),
- else none: a trial run outside a launcher without the variable saves nothing.

Inside it each save is one folder ``step-<n>/`` holding the framework's files and, written
last, ``checkpoint.json`` (the step and the time): a folder without it (a save cut
short by a kill) is not a checkpoint. Only the newest complete save is kept.

Settings (environment variables, so every process of a trial and the launcher agree):
``TUNEHOOKS_CHECKPOINT_EVERY`` saves every n-th report (default 1: at every report, each
a decision point of the scheduler, so a paused trial resumes exactly where it stopped;
0 turns saving off); ``TUNEHOOKS_CHECKPOINT_KEEP`` is how many finished trials keep
their checkpoints (the best k, default 1).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = TrialCheckpoints(Path(tempfile.mkdtemp()))
    >>> target = folder.begin(3)
    >>> _ = (target / "weights.bin").write_bytes(b"x")
    >>> folder.commit(3).step
    3
    >>> folder.latest().step, sorted(p.name for p in folder.latest().path.iterdir())
    (3, ['checkpoint.json', 'weights.bin'])
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ENV_CHECKPOINT_DIR",
    "ENV_CHECKPOINT_EVERY",
    "ENV_CHECKPOINT_KEEP",
    "Checkpoint",
    "CheckpointSettings",
    "TrialCheckpoints",
    "checkpoint_root",
    "disk_usage",
    "keep_best",
    "trial_checkpoint_dir",
]

ENV_CHECKPOINT_DIR = "TUNEHOOKS_CHECKPOINT_DIR"
ENV_CHECKPOINT_EVERY = "TUNEHOOKS_CHECKPOINT_EVERY"
ENV_CHECKPOINT_KEEP = "TUNEHOOKS_CHECKPOINT_KEEP"
_ENV_RUN_DIR = "TUNEHOOKS_RUN_DIR"  # tunehooks.launch.process.ENV_RUN_DIR (not imported: no cycle)
_META = "checkpoint.json"
_STEP_DIR = re.compile(r"^step-(\d+)$")
_FORMAT = 1


@dataclass(frozen=True)
class CheckpointSettings:
    """How often to save and how many finished trials keep their checkpoints.

    Example:
        >>> CheckpointSettings.from_env({"TUNEHOOKS_CHECKPOINT_EVERY": "2"}).due(4)
        True
        >>> CheckpointSettings.from_env({"TUNEHOOKS_CHECKPOINT_EVERY": "x"})
        Traceback (most recent call last):
        ...
        ValueError: TUNEHOOKS_CHECKPOINT_EVERY: expected a whole number >= 0 (got 'x'); 1 saves at every report, 0 never
    """

    every: int = 1
    keep: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CheckpointSettings:
        env = os.environ if env is None else env
        return cls(
            every=_whole(env, ENV_CHECKPOINT_EVERY, 1, "1 saves at every report, 0 never"),
            keep=_whole(env, ENV_CHECKPOINT_KEEP, 1, "how many finished trials keep theirs"),
        )

    def due(self, n_reports: int) -> bool:
        """True when the ``n_reports``-th report of this run is one to save at."""
        return self.every > 0 and n_reports % self.every == 0


def _whole(env: Mapping[str, str], name: str, default: int, hint: str) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise ValueError(f"{name}: expected a whole number >= 0 (got {text!r}); {hint}")
    return int(text)


@dataclass(frozen=True)
class Checkpoint:
    """One complete save: the step it was taken after and the folder of its files."""

    step: int
    path: Path
    saved_at: float = 0.0


class TrialCheckpoints:
    """The checkpoint folder of one trial: begin a save, commit it, find the newest.

    ``begin(step)`` returns an empty folder for the framework's files; ``commit(step)``
    marks it complete (its ``checkpoint.json`` is written last, through a rename) and
    deletes older saves. ``latest()`` is the newest complete save, or ``None``.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _step_dir(self, step: int) -> Path:
        return self.path / f"step-{step:06d}"

    def begin(self, step: int) -> Path:
        target = self._step_dir(step)
        if target.exists():  # an earlier save of this step (cut short, or a rerun): replace
            shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True, exist_ok=True)
        return target

    def commit(self, step: int) -> Checkpoint:
        target = self._step_dir(step)
        now = time.time()
        tmp = target / f".{_META}.tmp"
        tmp.write_text(json.dumps({"format": _FORMAT, "step": step, "saved_at": now}))
        os.replace(tmp, target / _META)
        for old in self._saves():
            if old.step != step:
                shutil.rmtree(old.path, ignore_errors=True)
        for leftover in self._step_dirs():  # saves cut short before this one
            if leftover != target and not (leftover / _META).exists():
                shutil.rmtree(leftover, ignore_errors=True)
        return Checkpoint(step, target, now)

    def latest(self, *, at_most: int | None = None) -> Checkpoint | None:
        """The newest complete save (at most at step ``at_most``), else ``None``."""
        saves = [c for c in self._saves() if at_most is None or c.step <= at_most]
        return max(saves, key=lambda c: c.step) if saves else None

    def _step_dirs(self) -> list[Path]:
        if not self.path.is_dir():
            return []
        return [p for p in self.path.iterdir() if p.is_dir() and _STEP_DIR.match(p.name)]

    def _saves(self) -> list[Checkpoint]:
        out = []
        for p in self._step_dirs():
            meta = _read_meta(p)
            if meta is not None:
                out.append(meta)
        return out

    def size_bytes(self) -> int:
        return _tree_size(self.path)

    def delete(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __repr__(self) -> str:
        return f"TrialCheckpoints({str(self.path)!r})"


def _read_meta(folder: Path) -> Checkpoint | None:
    try:
        data = json.loads((folder / _META).read_text())
        step = int(data["step"])
        saved_at = float(data.get("saved_at", 0.0))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    match = _STEP_DIR.match(folder.name)
    if match is None or int(match.group(1)) != step:
        return None
    return Checkpoint(step, folder, saved_at)


def _tree_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


def _safe(name: str) -> str:
    """``tunehooks.launch.process.safe_name`` (the run folders' name), without importing
    the launcher (a second of imports) into every training process."""
    out = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    out = re.sub(r"^\.+", lambda m: "_" * len(m.group(0)), out)
    return out[:200] or "experiment"


def checkpoint_root(
    experiment: str, *, env: Mapping[str, str] | None = None
) -> tuple[Path, str] | None:
    """``(folder, suffix)``: trial ``i``'s checkpoints are in ``folder / str(i) / suffix``;
    ``None`` when this process has no checkpoint folder (see the module's layout)."""
    env = os.environ if env is None else env
    root = env.get(ENV_CHECKPOINT_DIR, "").strip()
    if root:
        return Path(root).expanduser().resolve() / _safe(experiment), ""
    run_dir = env.get(_ENV_RUN_DIR, "").strip()
    if run_dir:
        return Path(run_dir).parent, "checkpoints"
    return None


def trial_checkpoint_dir(
    experiment: str, trial_id: int, *, env: Mapping[str, str] | None = None
) -> Path | None:
    """The checkpoint folder of a trial (it may not exist yet), or ``None``.

    Example:
        >>> str(trial_checkpoint_dir("digits", 7, env={"TUNEHOOKS_CHECKPOINT_DIR": "/ckpt"}))
        '/ckpt/digits/7'
        >>> str(trial_checkpoint_dir("digits", 7, env={"TUNEHOOKS_RUN_DIR": "/r/digits/7"}))
        '/r/digits/7/checkpoints'
    """
    where = checkpoint_root(experiment, env=env)
    if where is None:
        return None
    folder, suffix = where
    path = folder / str(trial_id)
    return path / suffix if suffix else path


def keep_best(finished: Sequence[int], best_first: Sequence[int], *, keep: int) -> list[int]:
    """Which finished trials (ids) lose their checkpoints: all but the first ``keep`` of
    ``best_first`` (the completed trials, best first).

    Example:
        >>> keep_best([1, 2, 3, 4], [3, 1], keep=1)
        [1, 2, 4]
    """
    kept = set(best_first[: max(keep, 0)])
    return [t for t in finished if t not in kept]


def disk_usage(
    experiment: str,
    trial_ids: Iterable[int],
    *,
    runs_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[int, int, Path | None]:
    """``(trials with checkpoints, bytes, folder)`` of an experiment's checkpoints on this
    machine: under ``$TUNEHOOKS_CHECKPOINT_DIR`` when set, else under ``runs_dir``."""
    env = dict(os.environ if env is None else env)
    if not env.get(ENV_CHECKPOINT_DIR) and runs_dir is not None:
        env[_ENV_RUN_DIR] = str(Path(runs_dir) / _safe(experiment) / "0")
    where = checkpoint_root(experiment, env=env)
    if where is None:
        return 0, 0, None
    n = size = 0
    for trial_id in trial_ids:
        path = trial_checkpoint_dir(experiment, trial_id, env=env)
        if path is not None and path.is_dir():
            used = _tree_size(path)
            if used or any(path.iterdir()):
                n += 1
                size += used
    return n, size, where[0]


def warn_fresh_start(trial_number: int, folder: Path, why: str) -> None:
    """Say (once per trial run) that a resumed trial starts from scratch."""
    warnings.warn(
        f"tunehooks: trial {trial_number} resumes, but {why} (in {folder}); it trains "
        "from the start instead",
        RuntimeWarning,
        stacklevel=3,
    )
