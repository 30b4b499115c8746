"""The checkpoint folder's layout and policies (no framework)."""

from __future__ import annotations

import pytest

from tunehooks.checkpoint import (
    CheckpointSettings,
    TrialCheckpoints,
    disk_usage,
    keep_best,
    trial_checkpoint_dir,
)


def test_a_save_cut_short_is_no_checkpoint_and_commit_keeps_only_the_newest(tmp_path) -> None:
    c = TrialCheckpoints(tmp_path / "t")
    (c.begin(1) / "w").write_bytes(b"1")
    c.commit(1)
    (c.begin(2) / "w").write_bytes(b"22")  # killed before commit
    assert c.latest().step == 1
    (c.begin(3) / "w").write_bytes(b"333")
    c.commit(3)
    assert sorted(p.name for p in c.path.iterdir()) == ["step-000003"]
    assert c.latest().step == 3 and c.size_bytes() > 3


def test_an_unreadable_marker_is_no_checkpoint(tmp_path) -> None:
    c = TrialCheckpoints(tmp_path / "t")
    c.begin(4)
    c.commit(4)
    (c.path / "step-000004" / "checkpoint.json").write_text("{not json")
    assert c.latest() is None
    assert TrialCheckpoints(tmp_path / "missing").latest() is None


def test_layout_prefers_the_checkpoint_dir_over_the_run_dir(tmp_path) -> None:
    env = {"TUNEHOOKS_CHECKPOINT_DIR": str(tmp_path), "TUNEHOOKS_RUN_DIR": "/r/e/1"}
    assert trial_checkpoint_dir("my exp", 3, env=env) == tmp_path / "my_exp" / "3"
    assert trial_checkpoint_dir("e", 3, env={}) is None


def test_settings_and_keep_best() -> None:
    s = CheckpointSettings.from_env({"TUNEHOOKS_CHECKPOINT_EVERY": "0"})
    assert not s.due(1) and CheckpointSettings().due(1)
    with pytest.raises(ValueError, match="TUNEHOOKS_CHECKPOINT_KEEP: expected a whole number"):
        CheckpointSettings.from_env({"TUNEHOOKS_CHECKPOINT_KEEP": "-1"})
    assert keep_best([1, 2, 3], [2, 3, 1], keep=2) == [1]
    assert keep_best([1, 2], [], keep=1) == [1, 2]


def test_disk_usage_counts_the_runs_folder(tmp_path) -> None:
    c = TrialCheckpoints(tmp_path / "runs" / "e" / "5" / "checkpoints")
    (c.begin(1) / "w").write_bytes(b"x" * 100)
    c.commit(1)
    n, size, where = disk_usage("e", [5, 6], runs_dir=tmp_path / "runs", env={})
    assert n == 1 and size >= 100 and where == tmp_path / "runs" / "e"


def test_experiment_folders_are_named_as_the_launchers_run_folders() -> None:
    from tunehooks.checkpoint import _safe
    from tunehooks.launch.process import safe_name

    for name in ["digits mlp/v2", "..", ".hidden", "", "a" * 300, "ok-1.2_x"]:
        assert _safe(name) == safe_name(name)
