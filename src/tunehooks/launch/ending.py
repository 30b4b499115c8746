"""What the launcher says about trials that ended: crash texts, console lines, what is left."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tunehooks.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment
    from tunehooks.launch.sweep import Sweep

__all__ = [
    "crash_text",
    "failure_lines",
    "nothing_to_run",
    "requeue_failed",
    "unresolved_failures",
]


def crash_text(rc: int, stderr_tail: str) -> str:
    """The stored error of a process that exited non-zero (or was killed).

    Example:
        >>> crash_text(-9, "")
        'the program ended with killed by signal SIGKILL'
        >>> crash_text(3, "Traceback ...\\nValueError: bad")
        'the program ended with exit code 3; stderr tail:\\nTraceback ...\\nValueError: bad'
    """
    try:
        how = f"killed by signal {signal.Signals(-rc).name}" if rc < 0 else f"exit code {rc}"
    except ValueError:
        how = f"killed by signal {-rc}"
    return f"the program ended with {how}" + (
        f"; stderr tail:\n{stderr_tail}" if stderr_tail else ""
    )


def failure_lines(error: str, run_dir: Path | None, *, lines: int = 5) -> str:
    """The console lines of a failed trial: the error's first line, then the last
    ``lines`` lines of its stderr tail, indented; each line at most 200 characters.

    Example:
        >>> print(failure_lines("the program ended with exit code 1; stderr tail:\\na\\nb", None))
        <BLANKLINE>
          the program ended with exit code 1; stderr tail:
            a
            b
    """
    all_lines = [line.rstrip() for line in error.strip().splitlines() if line.strip()]
    if not all_lines:
        return ""
    out = [f"  {all_lines[0][:200]}"]
    rest = all_lines[1:]
    if len(rest) > lines:
        out.append(f"    ... ({len(rest) - lines} more lines)")
    out += [f"    {line[:200]}" for line in rest[-lines:]]
    if run_dir is not None:
        out.append(f"  logs: {run_dir}")
    return "\n" + "\n".join(out)


def _key(t: TrialRecord) -> str:
    return json.dumps([dict(t.params), t.fidelity], sort_keys=True, default=str)


def unresolved_failures(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The FAILED trials that no later attempt of the same configuration followed:
    what ``--retry-failed`` queues again.

    Example:
        >>> from tunehooks.trial import TrialRecord as R, TrialState as S
        >>> ts = [R(1, 0, S.FAILED, {"x": 1}), R(2, 1, S.COMPLETED, {"x": 1}, attempt=1),
        ...       R(3, 2, S.FAILED, {"x": 2})]
        >>> [t.number for t in unresolved_failures(ts)]
        [2]
    """
    latest: dict[str, TrialRecord] = {}
    for t in trials:
        k = _key(t)
        if k not in latest or t.attempt >= latest[k].attempt:
            latest[k] = t
    return [t for t in latest.values() if t.state is TrialState.FAILED]


def _space_size(sweep: Sweep) -> int | None:
    """How many configurations the sweep's space holds (``None``: continuous or conditional)."""
    if sweep.space.is_conditional:
        return None
    size = 1
    for p in sweep.space.params.values():
        n = p.cardinality()
        if n is None:
            return None
        size *= n
    return size


def nothing_to_run(trials: Sequence[TrialRecord], sweep: Sweep) -> str:
    """Why a launch starts nothing, and what would run more."""
    n = {s: sum(t.state is s for t in trials) for s in TrialState}
    failed = len(unresolved_failures(trials))
    counts = (
        f"{n[TrialState.COMPLETED]} completed, {n[TrialState.PRUNED]} pruned, "
        f"{n[TrialState.PAUSED]} paused, {n[TrialState.FAILED]} failed"
    )
    size = _space_size(sweep)
    tried = {json.dumps(t.params, sort_keys=True, default=str) for t in trials}
    exhausted = size is not None and len(tried) >= size
    if exhausted:
        text = (
            f"nothing to run: every one of the space's {size} configurations was tried ({counts})"
        )
    else:
        text = f"nothing to run: the budget is spent ({counts})"
    path = sweep.path if sweep.path is not None else "sweep.yaml"
    if failed:
        text += (
            f"; `tunehooks launch {path} --retry-failed` runs the {failed} failed "
            f"trial{'s' if failed != 1 else ''} again"
        )
    if exhausted:
        return text + "; add values to `parameters` in the sweep file to run more"
    return text + "; raise `budget` in the sweep file to run more"


def requeue_failed(exp: Experiment, say: Callable[[str], None]) -> int:
    """``--retry-failed``: a new attempt of every failed trial not run again since."""
    failed = unresolved_failures(exp.storage.get_trials(exp.id, with_reports=False))
    for t in failed:
        again = exp.storage.requeue(t.id)
        say(f"trial {t.number} ({t.state.value}) queued again as trial {again.number}")
    if not failed:
        say("--retry-failed: no failed trial to run again")
    return len(failed)
