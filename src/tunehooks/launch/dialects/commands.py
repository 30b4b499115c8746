"""Command conventions of Rescale and SMAC (the command is in any dialect's file).

- Rescale DOE and W&B: a parameter's own macro inside a command item,
  ``--filters=${nb_filters}`` or ``-lr ${lr}`` (see :mod:`tunehooks.launch.macros`); a
  templated input file is ``templates:`` in the sweep, each ``${name}`` in it replaced
  by the trial's value into the trial's run folder (:func:`render_templates`);
- W&B's ``${args_no_equals}`` (``--lr 0.01``) and SMAC's wrapper flags
  ``${args_smac}`` (``-lr 0.01``);
- SMAC's result line, ``Result of this algorithm run: SAT, <runtime>, <runlength>,
  <quality>, <seed>`` (or SMAC 2's ``Result for SMAC: SUCCESS, ...``), read as the final
  values ``quality`` and ``runtime`` (:func:`smac_result`): name the sweep's metric
  ``quality`` (SMAC minimizes it).

Example:
    >>> smac_result("Result of this algorithm run: SAT, 0.5, 0, 0.125, 7")
    {'quality': 0.125, 'runtime': 0.5}
    >>> smac_result("Result for SMAC: CRASHED, 0, 0, 0, 0") is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunehooks.launch._schema import SweepError

__all__ = ["SMAC_OK", "render", "render_templates", "smac_result"]

SMAC_OK = ("SAT", "UNSAT", "SUCCESS")
"""SMAC statuses of a run that gave a result (``CRASHED``, ``TIMEOUT``, ... give none)."""
_RESULT = re.compile(
    r"Result (?:of this algorithm run|for SMAC)\s*:\s*([A-Za-z]+)\s*,\s*([^,]*),\s*([^,]*),"
    r"\s*([^,]*)(?:,|$)"
)
_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}")


def smac_result(line: str) -> dict[str, float] | None:
    """The final values a SMAC result line gives (``None``: not one, or a failed run)."""
    m = _RESULT.search(line)
    if m is None or m.group(1).upper() not in SMAC_OK:
        return None
    out: dict[str, float] = {}
    for name, raw in (("quality", m.group(4)), ("runtime", m.group(2))):
        try:
            out[name] = float(raw)
        except ValueError:
            continue
    return out or None


def render(text: str, values: Mapping[str, Any]) -> str:
    """``text`` with each ``${name}`` of a parameter replaced by its value (``$$`` is ``$``;
    any other ``${...}`` is left as written, for the shell or program that reads it)."""
    from tunehooks.launch.macros import format_value

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name is None:
            return "$"
        if name in values:
            return format_value(values[name])
        return m.group(0)

    return _TOKEN.sub(sub, text)


def render_templates(templates: tuple[str, ...], run_dir: Path, values: Mapping[str, Any]) -> None:
    """Write each template (a path), its parameters filled in, into ``run_dir`` under its
    own name."""
    for t in templates:
        src = Path(t)
        try:
            text = src.read_text()
        except OSError as e:
            raise SweepError(f"templates: cannot read {t!r} ({e.strerror})") from None
        (run_dir / src.name).write_text(render(text, values))
