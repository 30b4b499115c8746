"""Every docstring example in the library runs and prints what it shows.

The Lightning, Keras and MXNet modules are left out here: their examples need the
framework and run in tests/integrations and tests/mxnet.
"""

from __future__ import annotations

import doctest
import importlib
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


def test_the_public_classes_have_examples() -> None:
    examples = 0
    for name in MODULES:
        module = importlib.import_module(name)
        examples += sum(len(t.examples) for t in doctest.DocTestFinder().find(module))
    assert examples >= 60


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
