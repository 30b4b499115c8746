"""What the integrations tell a ``ask_loop()`` loop about the trainings in its body.

Process-local bookkeeping, keyed by trial id, with two jobs:

- **Who completes a trial.** Inside ``for trial in exp.ask_loop()`` (or a callback's
  ``with`` block) the trial is *held*: its training may be several fits (Keras:
  the head, then fine-tuning), so an integration does not complete it at the end
  of a fit; the loop (or the ``with`` block) completes it when the body ends, and
  the fits' reports form one curve. A trial nobody holds is completed at the end
  of its fit, and a second fit on it is refused.
- **A training that raised without a hook.** Keras and ``transformers.Trainer``
  call no callback when training raises. Their integrations mark the training
  *open* when it begins, record the error when they see one, and close it when
  it ends; a training still open when the loop body ends raised, and the loop
  fails the trial with that error (or a message saying so) instead of completing
  it.

Example:
    >>> hold(7); opened(7, "model.fit"); is_held(7)
    True
    >>> release(7)
    'model.fit raised before it ended (the error was not seen by tunehooks: look at the traceback)'
"""

from __future__ import annotations

__all__ = ["closed", "failed", "hold", "is_held", "opened", "release"]

_held: dict[int, int] = {}  # trial id -> how many loops / with blocks hold it
_open: dict[int, str] = {}  # trial id -> the error of a training that began and did not end


def hold(trial_id: int) -> None:
    """A loop or ``with`` block will finish this trial when it ends."""
    _held[trial_id] = _held.get(trial_id, 0) + 1


def is_held(trial_id: int) -> bool:
    return trial_id in _held


def release(trial_id: int) -> str | None:
    """The block holding the trial ended: the error of a training that did not end, if any."""
    depth = _held.get(trial_id, 0) - 1
    if depth > 0:
        _held[trial_id] = depth
        return None
    _held.pop(trial_id, None)
    return _open.pop(trial_id, None)


def opened(trial_id: int, what: str) -> None:
    """A training (``what``: "model.fit") of the trial began."""
    _open[trial_id] = (
        f"{what} raised before it ended (the error was not seen by tunehooks: look at the traceback)"
    )


def failed(trial_id: int, error: str) -> None:
    """The open training of the trial raised ``error`` (its text)."""
    if trial_id in _open:
        _open[trial_id] = error


def closed(trial_id: int) -> None:
    """The training of the trial ended (normally, or its trial is already finished)."""
    _open.pop(trial_id, None)
