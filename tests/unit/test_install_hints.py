"""A missing optional package names the extra that installs it, in one wording
(``tunehooks._extras``): no module writes its own ``pip install`` line."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tunehooks._extras import install_hint

SRC = Path(__file__).resolve().parents[2] / "src" / "tunehooks"
# the one place that writes the install line
OWN_WORDING = {"_extras.py"}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def test_no_module_writes_its_own_install_hint() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in OWN_WORDING:
            continue
        tree = ast.parse(path.read_text())
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and "pip install" in node.value
                and id(node) not in docs
            ):
                found.append(f"{rel}:{node.lineno}")
    assert found == []


def _plotly() -> Any:
    from tunehooks.dashboard.server import plotly_js

    return plotly_js()


def _yaml(tmp: Path) -> Any:
    from tunehooks.launch._yaml import read_yaml

    (tmp / "sweep.yaml").write_text("a: 1\n")
    return read_yaml(tmp / "sweep.yaml")


def _ray() -> Any:
    from tunehooks.launch.executors.ray_cluster import import_ray

    return import_ray()


def _figure() -> Any:
    from tunehooks.analysis.figures import _figure

    return _figure(4, 3)


CASES: list[tuple[str, Callable[[Path], Any], str]] = [
    ("plotly", lambda tmp: _plotly(), install_hint("the dashboard", "plotly", "dashboard")),
    ("yaml", _yaml, install_hint("reading a sweep file", "pyyaml", "launch")),
    ("ray", lambda tmp: _ray(), install_hint("executor ray", "ray", "ray")),
    ("matplotlib", lambda tmp: _figure(), install_hint("a figure", "matplotlib", "analysis")),
]


@pytest.mark.parametrize(("module", "call", "hint"), CASES, ids=[c[0] for c in CASES])
def test_a_missing_package_names_its_extra(
    module: str,
    call: Callable[[Path], Any],
    hint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name in list(sys.modules):
        if name == module or name.startswith(module + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(ModuleNotFoundError) as e:
        call(tmp_path)
    assert str(e.value) == hint
