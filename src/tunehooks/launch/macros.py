"""Command macros (``${program}``, ``${args}``, ...) expanded to an argv list.

Nothing here ever goes through a shell: each template item becomes one or more
argv items, and a parameter value is always (part of) one item, so no value can
inject a command. A list macro (``${args}``, ``${args_no_hyphens}``) standing
alone expands to several items; inside a longer argument it is joined with
spaces into that one argument. ``$$`` is a literal ``$``.

A command that runs a shell itself (``["/bin/sh", "-c", "python train.py ${args}"]``)
hands the values to that shell, which does interpret them: use
``${args_quoted}`` there (each ``--name=value`` quoted for a POSIX shell);
:func:`shell_warning` says so when a shell command uses an unquoted macro.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunehooks.launch._schema import SweepError
from tunehooks.launch.layout import ParamLayout

__all__ = [
    "DEFAULT_COMMAND",
    "MACROS",
    "MacroContext",
    "MacroError",
    "check_command",
    "expand_command",
    "format_value",
    "shell_warning",
]

DEFAULT_COMMAND = ("${env}", "${interpreter}", "${program}", "${args}")
MACROS = (
    "program",
    "args",
    "args_no_hyphens",
    "args_quoted",
    "args_json",
    "args_json_file",
    "args_no_equals",
    "args_no_boolean_flags",
    "args_smac",
    "args_dotted",
    "trial_id",
    "trial_number",
    "fidelity",
    "task",
    "experiment",
    "run_dir",
    "env",
    "interpreter",
)
_LIST_MACROS = (
    "args",
    "args_no_hyphens",
    "args_no_equals",
    "args_no_boolean_flags",
    "args_smac",
    "args_dotted",
)
_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}")


class MacroError(SweepError):
    """A command template that cannot be expanded; names the ``command[i]`` item."""


def format_value(value: Any) -> str:
    """A parameter value as command-line text (``0.001``, ``64``, ``adam``, ``True``)."""
    return repr(value) if isinstance(value, float) else str(value)


def _fidelity_text(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def check_command(
    command: Sequence[str],
    *,
    has_fidelity: bool = True,
    has_tasks: bool = False,
    params: Sequence[str] = (),
) -> None:
    """Raise :class:`MacroError` for an unknown macro or one the sweep cannot fill.

    ``params``: the parameter names, each a macro of its own (``--lr=${lr}``, W&B's and
    Rescale's form)."""
    for i, item in enumerate(command):
        if not isinstance(item, str):
            raise MacroError(f"command[{i}]: expected a string (got {item!r}); quote it in YAML")
        for m in _TOKEN.finditer(item):
            name = m.group(1)
            if name is None:
                continue
            if name not in MACROS and name not in params:
                known = " ".join(f"${{{k}}}" for k in MACROS)
                raise MacroError(
                    f"command[{i}]: unknown macro ${{{name}}}; known: {known} and the "
                    "parameters' names"
                )
            if name == "fidelity" and not has_fidelity:
                raise MacroError(
                    f"command[{i}]: ${{fidelity}} needs a `fidelity:` section (min, max) in "
                    "the sweep"
                )
            if name == "task" and not has_tasks:
                raise MacroError(f"command[{i}]: ${{task}} needs `fidelity.tasks` in the sweep")


@dataclass(frozen=True)
class MacroContext:
    """What the macros of one trial expand to.

    Example:
        >>> ctx = MacroContext({"lr": 0.01, "opt": "adam"}, "demo", trial_id=3, fidelity=9.0)
        >>> expand_command(["python", "train.py", "--epochs=${fidelity}", "${args}"], ctx)
        ['python', 'train.py', '--epochs=9', '--lr=0.01', '--opt=adam']
    """

    params: Mapping[str, Any]
    experiment: str
    trial_id: int | str = ""
    trial_number: int | str = ""
    program: str | None = None
    fidelity: float | None = None
    task: str | None = None
    run_dir: str = ""
    args_json_file: str = ""
    interpreter: str = field(default_factory=lambda: sys.executable)
    layout: ParamLayout = field(default_factory=ParamLayout)

    def value(self, name: str) -> str | list[str]:
        flags = self.layout.flags(self.params)
        if name == "args":
            return [f"--{k}={format_value(v)}" for k, v in flags]
        if name == "args_no_hyphens":
            return [f"{k}={format_value(v)}" for k, v in flags]
        if name == "args_dotted":  # nested groups as dotted flags: --optimizer.lr=0.01
            return [
                f"--{k}={format_value(self.layout.program_value(v))}"
                for k, v in self.params.items()
            ]
        if name == "args_no_equals":  # W&B: --name value
            return [w for k, v in flags for w in (f"--{k}", format_value(v))]
        if name == "args_smac":  # SMAC's wrapper convention: -name value
            return [w for k, v in flags for w in (f"-{k}", format_value(v))]
        if name == "args_no_boolean_flags":  # W&B: --flag for true, nothing for false
            return [
                f"--{k}" if v is True else f"--{k}={format_value(v)}"
                for k, v in flags
                if v is not False
            ]
        if name == "args_quoted":
            return " ".join(shlex.quote(f"--{k}={format_value(v)}") for k, v in flags)
        if name == "args_json":
            return json.dumps(self.layout.program_params(self.params), sort_keys=True)
        if name == "fidelity":
            return _fidelity_text(self.fidelity)
        if name == "env":
            return shutil.which("env") or "/usr/bin/env"
        if name == "program":
            if self.program is None:
                raise MacroError("${program} is used but the sweep has no `program:`")
            return self.program
        if name == "task":
            return self.task or ""
        if name not in MACROS and name in self.params:  # ${lr}: one parameter's value
            return format_value(self.layout.program_value(self.params[name]))
        return str(getattr(self, name))


def expand_command(command: Sequence[str], ctx: MacroContext) -> list[str]:
    """The argv for one trial: every macro replaced, list macros spliced."""
    argv: list[str] = []
    for i, item in enumerate(command):
        whole = _TOKEN.fullmatch(item)
        if whole is not None and whole.group(1) in _LIST_MACROS:
            argv.extend(ctx.value(whole.group(1)))
            continue

        def sub(m: re.Match[str], i: int = i) -> str:
            name = m.group(1)
            if name is None:
                return "$"
            if name not in MACROS and name not in ctx.params:
                raise MacroError(f"command[{i}]: unknown macro ${{{name}}}")
            v = ctx.value(name)
            return " ".join(v) if isinstance(v, list) else v

        argv.append(_TOKEN.sub(sub, item))
    return argv


_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "fish"}
_VALUE_MACROS = ("args", "args_no_hyphens", "args_json")


def shell_warning(command: Sequence[str]) -> str | None:
    """A warning when ``command`` runs a shell (``sh -c "..."``) on a string holding a
    macro whose values the shell would interpret; ``None`` when it does not.

    Example:
        >>> shell_warning(["/bin/sh", "-c", "python train.py ${args}"]).split(";")[0]
        'warning: command[2] passes ${args} to a shell'
        >>> shell_warning(["/bin/sh", "-c", "python train.py ${args_quoted}"]) is None
        True
    """
    words = list(command)
    if not words:
        return None
    skip = 1 if os.path.basename(words[0]) == "env" and len(words) > 1 else 0
    if os.path.basename(words[skip]) not in _SHELLS or "-c" not in words:
        return None
    start = words.index("-c") + 1
    for i, item in enumerate(words[start:], start=start):
        for m in _TOKEN.finditer(item):
            if m.group(1) in _VALUE_MACROS:
                return (
                    f"warning: command[{i}] passes ${{{m.group(1)}}} to a shell; a parameter "
                    "value can run commands there: use ${args_quoted} (see docs/launch.md)"
                )
    return None
