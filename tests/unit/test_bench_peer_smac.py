"""The SMAC3 peer of the multi-fidelity benchmark (bench/multifidelity/peers.py), run as
run.py runs it: in its own environment bench/.venvs/mf-smac, as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "bench" / "multifidelity" / "peers.py"
VENV = ROOT / "bench" / ".venvs" / "mf-smac"


@pytest.mark.slow  # SMAC3 itself: a random forest refit per ask
@pytest.mark.skipif(
    not (VENV / ".ok").exists(),
    reason="bench/.venvs/mf-smac is not installed: bash bench/multifidelity/setup_peers.sh smac",
)
@pytest.mark.parametrize("workers", [1, 4])
def test_smac_on_a_grid_smaller_than_its_brackets_ends_when_the_grid_is_spent(
    tmp_path: Path, workers: int
) -> None:
    """9 configurations, fewer than Hyperband's first bracket: SMAC3 runs out of new
    configurations (ConfigurationSpaceExhaustedException), then ends its trial generator
    (StopIteration at the next ask, with a free worker); the peer ends its run both times,
    as a method without more trials."""
    n = 9
    rng = np.random.default_rng(0)
    # the best final value is the one the earliest epochs rank last: no run finds it early
    late = np.linspace(0.0, 0.3, n)[::-1]
    curves = 0.5 + np.outer(late, np.linspace(0.0, 1.0, 30)) - 0.02 * late[:, None]
    curves += rng.uniform(0, 1e-3, size=curves.shape)
    arrays = {
        "idx_a": np.arange(n, dtype=np.int8) % 3,
        "idx_b": np.arange(n, dtype=np.int8) // 3,
        "val_acc": curves,
        "train_time": np.cumsum(np.ones((n, 30)), axis=1),
    }
    np.savez(tmp_path / "t.npz", **arrays)
    params = {"a": {"values": [0.1, 0.2, 0.3]}, "b": {"values": ["x", "y", "z"]}}
    (tmp_path / "t.json").write_text(json.dumps({"params": params}))
    args = ["--table", str(tmp_path / "t"), "--seeds", "0,1,2", "--workers", str(workers)]
    args += ["--max-epochs", "1000", "--out", str(tmp_path / "w{seed}.json")]
    run = subprocess.run(
        [str(VENV / "bin" / "python"), "-P", str(PEERS), "smac-hyperband", *args],
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for seed in (0, 1, 2):
        res = json.loads((tmp_path / f"w{seed}.json").read_text())
        assert res["trials"] >= n  # every configuration of the grid was tried
        assert res["total_epochs"] < 1000  # it ended with the grid, not at the cap
