"""Numbers and parameters as people read them: ``lr=0.0001``, not ``0.00010000000000000009``.

One place for the human-facing formatting of the command line, the dashboard and
the reports. Machine-readable output (``--json``, CSV, exports) keeps full precision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["format_number", "format_params"]


def format_number(v: Any, *, digits: int = 4) -> str:
    """``v`` with ``digits`` significant digits; plain notation from 1e-4 to 1e6.

    Example:
        >>> format_number(0.00010000000000000009), format_number(12345.678), format_number(3)
        ('0.0001', '12350', '3')
        >>> format_number(2.5e-7), format_number(float("nan")), format_number(0.8)
        ('2.5e-07', 'nan', '0.8')
    """
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    s = f"{v:.{digits}g}"
    if "e" in s and 1e-4 <= abs(v) < 1e6:
        s = f"{float(s):f}".rstrip("0").rstrip(".")
    return s


def format_params(params: Mapping[str, Any], *, digits: int = 4, sep: str = " ") -> str:
    """``name=value`` pairs, nested dicts dotted, numbers at ``digits`` significant digits.

    Example:
        >>> format_params({"lr": 0.00010000000000000009, "opt": "adam", "net": {"width": 64}})
        'lr=0.0001 opt=adam net.width=64'
    """
    return sep.join(f"{k}={format_number(v, digits=digits)}" for k, v in _flat(params, ""))


def _flat(params: Mapping[str, Any], prefix: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in params.items():
        if isinstance(v, Mapping):
            out += _flat(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", v))
    return out
