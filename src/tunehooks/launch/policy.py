"""When a sweep stops starting trials because they keep failing: pure decisions, no I/O.

A trial that fails is judged by its error: a *configuration* error (the program
is not there, rejects its arguments, cannot import a module, exits 0 without
the metric) would fail again with the same settings, so it is never retried and
costs nothing of a cost budget; any other failure is a *crash*, retried up to
``retries`` times. The sweep stops starting trials after ``stop_after`` failures
in a row with the same error, or when more than ``max_failure_rate`` of the
trials that ended in this launch failed (judged once ``rate_after`` ended).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from tunehooks.trial import CONFIG_ERROR_PREFIX

__all__ = [
    "CONFIG_PREFIX",
    "FailureKind",
    "FailurePolicy",
    "FailureTracker",
    "classify_failure",
    "error_signature",
]

CONFIG_PREFIX = CONFIG_ERROR_PREFIX
"""How the error of a trial that failed on its configuration starts."""


class FailureKind(str, enum.Enum):
    CRASH = "crash"
    CONFIGURATION = "configuration"


_CONFIG_STDERR = re.compile(
    r"^(usage: .*|.*error: (unrecognized arguments|argument |the following arguments are "
    r"required).*|ModuleNotFoundError: .*|ImportError: .*|.*: (command )?not found|"
    r".*Permission denied.*|.*No such file or directory.*)$",
    re.MULTILINE,
)


def classify_failure(returncode: int | None, stderr_tail: str) -> FailureKind:
    """A failure's kind from the exit code and the end of stderr.

    Example:
        >>> classify_failure(2, "usage: train.py [-h]\\ntrain.py: error: unrecognized arguments: --x=1")
        <FailureKind.CONFIGURATION: 'configuration'>
        >>> classify_failure(1, "RuntimeError: CUDA out of memory")
        <FailureKind.CRASH: 'crash'>
    """
    if returncode in (126, 127):  # a shell's "not executable" / "command not found"
        return FailureKind.CONFIGURATION
    last = stderr_tail.strip().splitlines()[-3:]
    if returncode == 2 and any(line.startswith("usage:") or ": error:" in line for line in last):
        return FailureKind.CONFIGURATION  # argparse
    if last and _CONFIG_STDERR.match(last[-1]) and returncode not in (None, 0):
        return FailureKind.CONFIGURATION
    return FailureKind.CRASH


_NOISE = re.compile(r"0x[0-9a-fA-F]+|\d+(\.\d+)?")


def error_signature(error: str | None) -> str:
    """What two failures share when they fail "with the same error": the last line
    of the error with numbers and addresses blanked.

    Example:
        >>> error_signature("exit code 1; stderr tail:\\nValueError: lr=0.31 too big")
        'ValueError: lr=# too big'
    """
    lines = [line.strip() for line in (error or "").strip().splitlines() if line.strip()]
    return _NOISE.sub("#", lines[-1])[:200] if lines else ""


@dataclass(frozen=True)
class FailurePolicy:
    """The sweep file's ``on_failure`` section.

    Example:
        >>> FailurePolicy().stop_after, FailurePolicy().max_failure_rate
        (3, 0.5)
    """

    retries: int = 0
    stop_after: int = 3
    max_failure_rate: float = 0.5
    rate_after: int = 10

    def to_dict(self) -> dict[str, float]:
        return {
            "retries": self.retries,
            "stop_after": self.stop_after,
            "max_failure_rate": self.max_failure_rate,
            "rate_after": self.rate_after,
        }


@dataclass
class FailureTracker:
    """Counts the ends of one launch and says when to stop starting trials.

    Example:
        >>> t = FailureTracker(FailurePolicy(stop_after=2))
        >>> t.ended(failed=True, error="x\\nOSError: disk 1"), t.ended(failed=True, error="OSError: disk 2")
        (None, '2 trials in a row failed with the same error')
    """

    policy: FailurePolicy
    ended_count: int = 0
    failed_count: int = 0
    streak: int = 0
    signature: str = ""
    last_error: str = field(default="", repr=False)

    def ended(self, *, failed: bool, error: str | None = None) -> str | None:
        """Note a trial's end; return why the sweep should stop starting trials, if it should."""
        self.ended_count += 1
        if not failed:
            self.streak, self.signature = 0, ""
            return None
        self.failed_count += 1
        self.last_error = error or ""
        sig = error_signature(error)
        self.streak = self.streak + 1 if sig == self.signature else 1
        self.signature = sig
        p = self.policy
        if p.stop_after > 0 and self.streak >= p.stop_after:
            return f"{self.streak} trials in a row failed with the same error"
        rate = self.failed_count / self.ended_count
        if self.ended_count >= p.rate_after and rate > p.max_failure_rate:
            return (
                f"{self.failed_count} of the {self.ended_count} trials that ended failed "
                f"(more than {p.max_failure_rate:.0%})"
            )
        return None
