from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "tensorflow", "keras", "lightning", "mxnet", "yaml", "gpytorch", "pandas")


def test_import_tunehooks_loads_no_framework_and_no_yaml() -> None:
    code = (
        "import sys, tunehooks as th\n"
        "th.SearchSpace({'x': th.Float(0, 1)}); th.Experiment; th.current_trial\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_cli_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\nfrom tunehooks.cli import build_parser\nbuild_parser().format_help()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'numpy', 'torch', 'yaml', 'scipy')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_public_names_resolve() -> None:
    import tunehooks as th

    for name in th.__all__:
        assert getattr(th, name) is not None
