"""``optimizer_options`` of a sweep file: which keywords the method's optimizer takes."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from typing import Any

from tunehooks.fidelity import Fidelity
from tunehooks.optimizers.base import Method
from tunehooks.optimizers.registry import optimizer_class

__all__ = ["optimizer_class", "options_problem"]


def options_problem(
    method: Method, fidelity: Fidelity | None, options: Mapping[str, Any], error: Exception
) -> str:
    """One line for an optimizer that refused its options (``error``, a TypeError).

    Example:
        >>> options_problem(Method.RANDOM, None, {"bogus": 1}, TypeError("bogus"))
        'optimizer_options.bogus: not an option of the random optimizer; it takes none'
    """
    params = inspect.signature(optimizer_class(method, fidelity)).parameters.values()
    fixed = {"space", "metrics", "seed", "fidelity", "scheduler", "self"}
    known = sorted(p.name for p in params if p.name not in fixed and p.kind is not p.VAR_KEYWORD)
    bad = [k for k in options if k not in known]
    if not bad:
        return f"optimizer_options: {error}"
    close = difflib.get_close_matches(str(bad[0]), known, n=1)
    hint = (
        f"did you mean `{close[0]}`?"
        if close
        else (f"known: {', '.join(known)}" if known else "it takes none")
    )
    return f"optimizer_options.{bad[0]}: not an option of the {method.value} optimizer; {hint}"
