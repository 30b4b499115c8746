"""The black-box benchmark's comparison of each peer with tunehooks bayes (bench/blackbox/score.py)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

BB = Path(__file__).resolve().parents[2] / "bench" / "blackbox"
# bench/multifidelity has modules of the same names (score, run): load ours under its own
# name and leave sys.modules as the other tests expect it
_NAMES = ("score", "run", "methods", "problems", "suite")


def _load() -> ModuleType:
    saved = {k: sys.modules.pop(k) for k in _NAMES if k in sys.modules}
    sys.path.insert(0, str(BB))
    try:
        spec = importlib.util.spec_from_file_location("blackbox_score", BB / "score.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(BB))
        for k in _NAMES:
            sys.modules.pop(k, None)
        sys.modules.update(saved)
    return mod


score = _load()


def _entry(scores: list[float], seeds: list[int] | None = None) -> dict[str, Any]:
    n = len(scores)
    se = float(np.std(scores, ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    return {
        "scores": scores,
        "mean": float(np.mean(scores)),
        "se": se,
        "seeds": seeds if seeds is not None else list(range(n)),
    }


def test_mean_se_combines_the_problems_standard_errors() -> None:
    assert score.mean_se([90.0, 80.0], [3.0, 4.0]) == (85.0, 2.5)
    assert score.mean_se([90.0, 80.0], [3.0, None]) == (85.0, None)


def test_peer_comparison_pairs_on_the_peers_seeds_and_lists_clear_wins() -> None:
    res = {
        "problems": {
            # the peer is clearly better here (gap 10, SE of the difference ~1.1)
            "a": {"bayes": _entry([80.0, 82.0, 81.0, 79.0]), "ax": _entry([90.0, 92.0])},
            # a tie below the tables' precision: not a finding
            "b": {"bayes": _entry([100.0] * 4), "ax": _entry([100.0, 100.04])},
        }
    }
    comp = score.peer_comparison(res)
    ax = comp["ax"]
    assert ax["seeds"] == (2, 2) and ax["problems"] == 2
    assert ax["mean"] == pytest.approx((91.0 + 100.02) / 2)
    # paired on seeds 0 and 1: a: (80-90, 82-92) -> -10; b: (0, -0.04) -> -0.02
    paired_mean, paired_se = ax["paired"]
    assert paired_mean == pytest.approx((-10.0 - 0.02) / 2)
    assert paired_se == pytest.approx(math.sqrt(0.0**2 + 0.02**2) / 2)
    assert [b[0] for b in ax["beats"]] == ["a"]
    text = "\n".join(score._peer_section(res))
    assert "ahead of every peer on the mean: no (not ahead of Ax (BoTorch))" in text
    assert "- Ax (BoTorch) (2 seeds): a 91.0 vs 80.5" in text


def test_a_one_seed_peer_has_no_standard_error() -> None:
    res = {"problems": {"a": {"bayes": _entry([80.0, 84.0]), "hebo": _entry([70.0])}}}
    comp = score.peer_comparison(res)
    assert comp["hebo"]["se"] is None and comp["hebo"]["diff"][1] is None
    assert comp["hebo"]["one_seed"]
    assert "ahead of every peer on the mean: yes" in "\n".join(score._peer_section(res))
