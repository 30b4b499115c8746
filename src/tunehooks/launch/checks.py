"""What the launch checks before it starts a trial, shared with ``--dry-run``.

Example:
    >>> from tunehooks.launch import parse_sweep
    >>> sweep = parse_sweep({"command": ["python", "train.py"], "method": "random",
    ...     "metric": {"name": "y", "goal": "maximize"},
    ...     "parameters": {"x": {"min": 0.0, "max": 1.0}}, "budget": 2})
    >>> params_warning(sweep).split(";")[0]
    'warning: the command passes no parameter to the program (no ${args}, ${args_json}, ${args_json_file} or ${name} macro)'
"""

from __future__ import annotations

import importlib.util
import os
import re
from typing import TYPE_CHECKING

from tunehooks.launch.macros import MACROS

if TYPE_CHECKING:
    from tunehooks.launch.sweep import Sweep

__all__ = ["module_program", "params_warning", "program_problem"]

_TOKEN = re.compile(r"\$\{([^}]*)\}")
_PASSING = {"args", "args_no_hyphens", "args_quoted", "args_json", "args_json_file"} | {
    "args_no_equals",
    "args_no_boolean_flags",
    "args_smac",
    "args_dotted",
}


def module_program(command: tuple[str, ...] | list[str]) -> bool:
    """Whether ``${program}`` follows ``-m``: the program is a module name, not a file."""
    words = list(command)
    return any(w == "${program}" and i > 0 and words[i - 1] == "-m" for i, w in enumerate(words))


def program_problem(sweep: Sweep, cwd: str | None = None) -> str | None:
    """One line when the program the command runs is not there (``None`` when it is)."""
    program = sweep.program_path
    if program is None or not any("${program}" in c for c in sweep.command):
        return None
    base = cwd or os.getcwd()
    shown = repr(program) if len(program) <= 80 else repr(program[:60] + "…")
    if module_program(sweep.command):
        rel = program.replace(".", os.sep)
        roots = [base] + ([] if sweep.path is None else [str(sweep.path.parent)])
        for root in roots:
            for candidate in (
                rel + ".py",
                os.path.join(rel, "__init__.py"),
                os.path.join(rel, "__main__.py"),
            ):
                if os.path.exists(os.path.join(root, candidate)):
                    return None
        try:
            if importlib.util.find_spec(program) is not None:
                return None
        except (ImportError, ValueError):
            pass
        return (
            f"program: module {shown} not found (with `-m ${{program}}` the program is a "
            "module name, looked up from the folder you launch in and among the installed ones)"
        )
    where = program if os.path.isabs(program) else os.path.join(base, program)
    if not os.path.exists(where):
        return (
            f"program: {shown} not found (a relative program is looked up from the "
            "sweep file's folder)"
        )
    return None


def params_warning(sweep: Sweep) -> str | None:
    """A warning when no macro of the command passes parameters and no client library
    (W&B, SigOpt) gives them to the program."""
    if sweep.clients:
        return None
    names = set(sweep.space.names)
    for item in sweep.command:
        for m in _TOKEN.finditer(item):
            name = m.group(1)
            if name in _PASSING or (name in names and name not in MACROS):
                return None
    return (
        "warning: the command passes no parameter to the program (no ${args}, ${args_json}, "
        "${args_json_file} or ${name} macro); every trial gets the same command unless the "
        "program reads its trial with tunehooks.current_trial()"
    )
