"""GPU slots on one machine: a stand-in ``nvidia-smi`` on PATH prints real ``-L`` outputs
(plain GPUs, MIG instances in the R470+ and the R450 formats), and the launcher's trials
see the devices their slots own."""

from __future__ import annotations

import io
import json
import os
import stat
import textwrap
from pathlib import Path

import pytest

from tunehooks.launch import Launcher, LogProgress, parse_sweep
from tunehooks.launch.devices import detect_devices, make_slots

PLAIN = """\
GPU 0: Tesla V100-SXM2-16GB (UUID: GPU-8f6b3c54-2ab9-8d5a-41f5-5e7a1a6b7a10)
GPU 1: Tesla V100-SXM2-16GB (UUID: GPU-2a1e3c2f-9d0b-4b7e-8f1c-0a4b7c9d1e22)
GPU 2: Tesla V100-SXM2-16GB (UUID: GPU-6c0d9e8f-1a2b-3c4d-5e6f-7a8b9c0d1e2f)
"""

MIG = """\
GPU 0: NVIDIA A100 40GB PCIe (UUID: GPU-48aeb943-9458-4282-da24-e5f49e0db44b)
  MIG 1g.5gb      Device  0: (UUID: MIG-fb42055e-9e53-5764-9278-438605a3014c)
  MIG 1g.5gb      Device  1: (UUID: MIG-3d4db13e-c42d-5555-98f4-8b50389791bc)
  MIG 2g.10gb     Device  2: (UUID: MIG-de819d17-9382-56a2-b9ca-aec36c88014f)
GPU 1: NVIDIA A100 40GB PCIe (UUID: GPU-0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e)
"""

MIG_R450 = """\
GPU 0: A100-SXM4-40GB (UUID: GPU-e91edf3b-b297-37c1-a2a7-7601c3238fa2)
  MIG 3g.20gb Device 0: (UUID: MIG-GPU-e91edf3b-b297-37c1-a2a7-7601c3238fa2/1/0)
  MIG 3g.20gb Device 1: (UUID: MIG-GPU-e91edf3b-b297-37c1-a2a7-7601c3238fa2/2/0)
"""


def _stand_in(tmp_path: Path, output: str) -> dict[str, str]:
    """An environment whose PATH finds a stand-in nvidia-smi printing ``output`` for -L."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "nvidia-smi.out").write_text(output)
    exe = bin_dir / "nvidia-smi"
    exe.write_text(f'#!/bin/sh\n[ "$1" = "-L" ] || exit 9\ncat "{bin_dir}/nvidia-smi.out"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_plain_gpus_are_their_indices_in_pci_order(tmp_path: Path) -> None:
    found = detect_devices(_stand_in(tmp_path, PLAIN))
    assert found.gpus == ("0", "1", "2") and found.pci_order and found.note is None


def test_mig_instances_are_slots_of_their_own(tmp_path: Path) -> None:
    found = detect_devices(_stand_in(tmp_path, MIG))
    assert found.gpus == (
        "MIG-fb42055e-9e53-5764-9278-438605a3014c",
        "MIG-3d4db13e-c42d-5555-98f4-8b50389791bc",
        "MIG-de819d17-9382-56a2-b9ca-aec36c88014f",
        "1",
    )
    slots, _ = make_slots(workers=None, gpus_per_trial=1, devices=found.gpus)
    assert len(slots) == 4 and slots[3].gpus == ("1",)
    old = detect_devices(_stand_in(tmp_path, MIG_R450)).gpus
    assert old == (
        "MIG-GPU-e91edf3b-b297-37c1-a2a7-7601c3238fa2/1/0",
        "MIG-GPU-e91edf3b-b297-37c1-a2a7-7601c3238fa2/2/0",
    )
    with pytest.raises(ValueError, match="gpus_per_trial: a trial sees one MIG instance"):
        make_slots(workers=None, gpus_per_trial=2, devices=old)


def test_cuda_visible_devices_wins_and_stops_at_an_invalid_entry(tmp_path: Path) -> None:
    env = _stand_in(tmp_path, PLAIN)
    found = detect_devices({**env, "CUDA_VISIBLE_DEVICES": "0,-1,1"})
    assert found.gpus == ("0",) and not found.pci_order
    assert found.note is not None and "no device after '-1'" in found.note
    assert detect_devices({**env, "CUDA_VISIBLE_DEVICES": "-1"}).gpus == ()
    assert detect_devices({**env, "CUDA_VISIBLE_DEVICES": ""}).gpus == ()
    uuids = "GPU-8f6b3c54-2ab9-8d5a-41f5-5e7a1a6b7a10,GPU-2a1e3c2f-9d0b-4b7e-8f1c-0a4b7c9d1e22"
    assert detect_devices({**env, "CUDA_VISIBLE_DEVICES": uuids}).gpus == tuple(uuids.split(","))


def test_fractions_share_gpus_and_idle_gpus_are_said() -> None:
    slots, note = make_slots(workers=None, gpus_per_trial=0.25, devices=["0", "1"])
    assert len(slots) == 8 and note is None
    assert [s.gpus[0] for s in slots] == ["0", "1"] * 4 and {s.shared_by for s in slots} == {4}
    slots, note = make_slots(workers=None, gpus_per_trial=2, devices=["0", "1", "2"])
    assert [s.gpus for s in slots] == [("0", "1")]
    assert note == "resources.gpus_per_trial=2 on 3 GPUs: GPU 2 stays idle"
    slots, note = make_slots(workers=1, gpus_per_trial=1, devices=["0", "1", "2"])
    assert note == "resources.workers=1: GPUs 1,2 stay idle"
    with pytest.raises(ValueError, match=r"resources.gpus_per_trial: 1.5 GPUs per trial"):
        make_slots(workers=None, gpus_per_trial=1.5, devices=["0", "1"])


SEEN = """
    import argparse, json, os, time
    p = argparse.ArgumentParser()
    p.add_argument("--x", type=float)
    a = p.parse_args()
    keys = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")
    with open(os.path.join(os.environ["TUNEHOOKS_RUN_DIR"], "seen.json"), "w") as f:
        json.dump({k: os.environ.get(k) for k in keys}, f)
    time.sleep(1.0)
    print("tunehooks: " + json.dumps({"step": 1, "y": a.x}))
"""


def test_the_launcher_puts_two_trials_on_each_gpu_with_half_a_gpu(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(textwrap.dedent(SEEN))
    sweep = parse_sweep(
        {
            "name": "halves",
            "program": "train.py",
            "command": ["${interpreter}", "${program}", "${args}"],
            "method": "random",
            "metric": {"name": "y", "goal": "maximize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "budget": {"trials": 6},
            "resources": {"gpus_per_trial": 0.5},
        },
        path=tmp_path / "sweep.yaml",
    )
    out = io.StringIO()
    result = Launcher(
        sweep,
        storage=f"sqlite:///{tmp_path / 'db.sqlite'}",
        runs_dir=tmp_path / "runs",
        progress=LogProgress(out, timestamps=False),
        cwd=tmp_path,
        env=_stand_in(tmp_path, PLAIN),
        poll_interval=0.05,
    ).run()
    log = out.getvalue()
    assert result.completed == 6, log
    assert "6 workers (gpu 0 (1/2), gpu 1 (1/2), gpu 2 (1/2), gpu 0 (1/2)" in log
    seen = [json.loads(p.read_text()) for p in (tmp_path / "runs" / "halves").glob("*/seen.json")]
    assert sorted(s["CUDA_VISIBLE_DEVICES"] for s in seen) == ["0", "0", "1", "1", "2", "2"]
    assert {s["CUDA_DEVICE_ORDER"] for s in seen} == {"PCI_BUS_ID"}
