"""Optional dependencies: one way to import one and to say which extra installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["install_command", "install_hint", "require"]


def install_command(extra: str, *, reinstall: bool = False) -> str:
    """The pip command that installs the extra ``extra`` (again, with ``reinstall``).

    Example:
        >>> install_command("dashboard", reinstall=True)
        'pip install --force-reinstall "tunehooks[dashboard]"'
    """
    flag = "--force-reinstall " if reinstall else ""
    return f'pip install {flag}"tunehooks[{extra}]"'


def install_hint(what: str, package: str, extra: str) -> str:
    """The one line that says what needs ``package`` and how to install it.

    Example:
        >>> install_hint("to_dataframe", "pandas", "analysis")
        'to_dataframe needs pandas: pip install "tunehooks[analysis]"'
    """
    return f"{what} needs {package}: {install_command(extra)}"


def require(module: str, *, extra: str, what: str, package: str | None = None) -> ModuleType:
    """Import ``module``, or raise :class:`ModuleNotFoundError` with :func:`install_hint`
    (``package``: the name to show, default the top-level module).

    Example:
        >>> require("math", extra="analysis", what="this example").sqrt(4.0)
        2.0
        >>> require("no_such_module_xyz", extra="analysis", what="this example")
        Traceback (most recent call last):
        ...
        ModuleNotFoundError: this example needs no_such_module_xyz: pip install "tunehooks[analysis]"
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        shown = package or module.partition(".")[0]
        raise ModuleNotFoundError(install_hint(what, shown, extra), name=shown) from None
