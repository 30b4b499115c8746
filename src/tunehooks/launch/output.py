"""Metrics printed by a training program: ``tunehooks: {json}`` lines and final ``name<TAB>value`` lines.

A program that does not import tunehooks reports an intermediate result with a
line such as ``tunehooks: {"step": 3, "val_acc": 0.91}`` (``step`` is optional:
it then counts up from the previous report; a tag before the marker, as
torchrun's ``[default0]:`` or logging's ``INFO:root:``, is allowed), and may end with plain lines
``val_acc<TAB>0.93`` giving final values. Everything else is ordinary output.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field

from tunehooks.launch.dialects.commands import smac_result
from tunehooks.trial import check_step

__all__ = ["PREFIX", "OutputParser", "ParsedReport"]

PREFIX = "tunehooks:"
_TAGGED = re.compile(r"[\s:\]]tunehooks:\s*(\{.*\})$")


@dataclass(frozen=True)
class ParsedReport:
    """One intermediate report read from a program's output.

    Example:
        >>> OutputParser().feed('tunehooks: {"step": 3, "val_acc": 0.91}')
        ParsedReport(step=3, metrics={'val_acc': 0.91})
    """

    step: int
    metrics: dict[str, float]


@dataclass
class OutputParser:
    """Reads a program's stdout line by line.

    ``final_names``: the metric names accepted in ``name<TAB>value`` lines
    (``None``: any name).

    Example:
        >>> p = OutputParser(final_names={"acc"})
        >>> p.feed('tunehooks: {"step": 2, "acc": 0.5, "note": "text"}')
        ParsedReport(step=2, metrics={'acc': 0.5})
        >>> p.feed("acc\\t0.75"), p.finals
        (None, {'acc': 0.75})
    """

    final_names: Collection[str] | None = None
    finals: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    last_step: int = 0

    def feed(self, line: str) -> ParsedReport | None:
        """Parse one line; return the report it carries, if any."""
        line = line.rsplit("\r", 1)[-1].strip()
        if line.startswith(PREFIX):
            return self._report(line[len(PREFIX) :].strip())
        tagged = _TAGGED.search(line)  # "[default0]:tunehooks: {...}", "INFO:root:tunehooks: {...}"
        if tagged is not None:
            return self._report(tagged.group(1))
        smac = smac_result(line) if "Result " in line else None  # SMAC's wrapper line
        if smac is not None:
            names = self.final_names
            self.finals.update({k: v for k, v in smac.items() if names is None or k in names})
            return None
        if line.count("\t") == 1:
            name, raw = (s.strip() for s in line.split("\t"))
            if name and (self.final_names is None or name in self.final_names):
                with contextlib.suppress(ValueError):
                    self.finals[name] = float(raw)
        return None

    def _report(self, text: str) -> ParsedReport | None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            self._warn(f"ignored a `tunehooks:` line that is not JSON ({e.msg}): {text[:80]}")
            return None
        except (ValueError, RecursionError) as e:  # a 5,000-digit number, [[[[...]]]]
            why = "nested too deeply" if isinstance(e, RecursionError) else str(e)[:60]
            if "integer string conversion" in why:
                why = "a number with more than 4,300 digits"
            self._warn(f"ignored a `tunehooks:` line that cannot be read ({why}): {text[:80]}")
            return None
        if not isinstance(data, dict):
            self._warn(f"ignored a `tunehooks:` line that is not a JSON object: {text[:80]}")
            return None
        step_raw = data.pop("step", None)
        if step_raw is None:
            step = self.last_step + 1
        else:
            try:
                step = check_step(step_raw)
            except ValueError as e:
                self._warn(f"ignored a report: {e}")
                return None
        metrics: dict[str, float] = {}
        for k, v in data.items():
            if not isinstance(v, int | float) or isinstance(v, bool):
                continue
            try:
                metrics[str(k)] = float(v)
            except OverflowError:
                self._warn(f"ignored a report: metric {str(k)[:40]!r} is too large for a float")
                return None
        if not metrics:
            self._warn(f"ignored a report without numeric metrics: {text[:80]}")
            return None
        self.last_step = step
        return ParsedReport(step, metrics)

    def _warn(self, msg: str) -> None:
        if len(self.warnings) < 100:
            self.warnings.append(msg)
