"""The docstring examples of the framework-free integration modules run."""

from __future__ import annotations

import doctest

import pytest

import tunehooks.integrations._common as common
import tunehooks.integrations.torch as torch_loop


@pytest.mark.parametrize("module", [common, torch_loop], ids=lambda m: m.__name__)
def test_docstring_examples(module) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
