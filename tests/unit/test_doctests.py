"""Every docstring example in the library runs and prints what it shows.

The Lightning, Keras and MXNet modules are left out here: their examples need the
framework and run in tests/integrations and tests/mxnet.
"""

from __future__ import annotations

import doctest
import enum
import importlib
import inspect
import pkgutil

import pytest

import tunehooks

FRAMEWORK_MODULES = {
    "tunehooks.integrations.keras",
    "tunehooks.integrations.lightning",
    "tunehooks.integrations.mxnet",
}
MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(tunehooks.__path__, prefix="tunehooks.")
    if m.name not in FRAMEWORK_MODULES
)


def _public_classes() -> list[str]:
    """Every public class of a public module (in its ``__all__`` when it has one); errors,
    enums and protocols are left out (their docstring is the contract, not a recipe)."""
    out = []
    for name in MODULES:
        if any(part.startswith("_") for part in name.split(".")[1:]):
            continue
        module = importlib.import_module(name)
        public = getattr(module, "__all__", None)
        for cls_name, obj in vars(module).items():
            if not inspect.isclass(obj) or obj.__module__ != name or cls_name.startswith("_"):
                continue
            if public is not None and cls_name not in public:
                continue
            if issubclass(obj, BaseException | enum.Enum) or getattr(obj, "_is_protocol", False):
                continue
            out.append(f"{name}:{cls_name}")
    return out


# Public classes without an example yet (each a debt; an example makes its xfail fail,
# then take it off the list). The conformance suite is a pytest class: its docstring
# shows the subclass to write instead.
NO_EXAMPLE_YET = {
    "tunehooks.launch.progress:RichProgress",
    "tunehooks.testing.storage_conformance:StorageConformance",
}


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="no example yet"))
        if c in NO_EXAMPLE_YET
        else c
        for c in _public_classes()
    ],
)
def test_the_public_classes_have_examples(where: str) -> None:
    module, _, name = where.partition(":")
    cls = getattr(importlib.import_module(module), name)
    assert ">>>" in (cls.__doc__ or ""), f"{where}: the class docstring has no example"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
