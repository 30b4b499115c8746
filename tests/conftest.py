from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def storage_url(tmp_path) -> str:
    """A fresh SQLite database file for one test."""
    return f"sqlite:///{tmp_path / 'tunehooks.db'}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run the tests marked slow (scripts/test.sh, CI); by default they are "
        "deselected so that `pytest` is fast",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the slow tests unless --run-slow (or TUNEHOOKS_RUN_SLOW=1, or a -m that
    names them) asks for them."""
    wanted = (
        config.getoption("--run-slow")
        or os.environ.get("TUNEHOOKS_RUN_SLOW") == "1"
        or "slow" in (config.getoption("-m") or "")
    )
    if wanted:
        return
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item.get_closest_marker("slow") is None]
