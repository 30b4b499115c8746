"""Macros, printed-output parsing, GPU detection and slots."""

from __future__ import annotations

import json

import pytest

from tunehooks.launch import MacroContext, OutputParser, expand_command, make_slots
from tunehooks.launch.devices import Slot, detect_gpus
from tunehooks.launch.macros import MacroError, check_command


def test_macros_expand_to_argv_items_also_inside_an_argument() -> None:
    ctx = MacroContext(
        params={"lr": 0.001, "opt": "; rm -rf /tmp/x", "n": 64},
        experiment="e",
        trial_id=7,
        trial_number=3,
        program="train.py",
        fidelity=9.0,
        run_dir="runs/e/7",
        args_json_file="runs/e/7/params.json",
        interpreter="/usr/bin/python3",
    )
    argv = expand_command(
        [
            "${interpreter}",
            "${program}",
            "--epochs=${fidelity}",
            "${args}",
            "--tag=${experiment}-${trial_id}",
            "--all=${args_no_hyphens}",
            "${args_json}",
            "@${args_json_file}",
            "$${literal}",
        ],
        ctx,
    )
    assert argv[:7] == [
        "/usr/bin/python3",
        "train.py",
        "--epochs=9",
        "--lr=0.001",
        "--opt=; rm -rf /tmp/x",
        "--n=64",
        "--tag=e-7",
    ]
    assert argv[7] == "--all=lr=0.001 opt=; rm -rf /tmp/x n=64"
    assert json.loads(argv[8]) == {"lr": 0.001, "n": 64, "opt": "; rm -rf /tmp/x"}
    assert argv[9:] == ["@runs/e/7/params.json", "${literal}"]
    assert expand_command(["x", "${fidelity}"], MacroContext({}, "e", fidelity=0.25))[1] == "0.25"


def test_check_command_rejects_unknown_macros() -> None:
    check_command(["${env}", "${interpreter}", "${program}", "${args}"])
    with pytest.raises(MacroError, match=r"command\[1\]: unknown macro \$\{prog\}"):
        check_command(["python", "${prog}"])


def test_output_parser_reads_json_reports_and_final_tab_lines() -> None:
    p = OutputParser(final_names={"acc", "loss"})
    assert p.feed("epoch 1 done") is None
    r1 = p.feed('tunehooks: {"step": 1, "acc": 0.5, "loss": 2, "name": "x", "flag": true}')
    assert r1 is not None and (r1.step, r1.metrics) == (1, {"acc": 0.5, "loss": 2.0})
    r2 = p.feed('  tunehooks: {"acc": 0.6}\n')  # no step: one more than the last
    assert r2 is not None and r2.step == 2
    r3 = p.feed('progress 50%\rtunehooks: {"step": 5, "acc": NaN}')
    assert r3 is not None and r3.step == 5 and r3.metrics["acc"] != r3.metrics["acc"]
    r4 = p.feed('[default0]:tunehooks: {"step": 6, "acc": 0.7}')
    assert r4 is not None and r4.step == 6
    r5 = p.feed('INFO:root:tunehooks: {"acc": 0.8}')
    assert r5 is not None and r5.step == 7
    assert p.feed('print("see tunehooks: {x}") # not at the end') is None
    assert p.feed("tunehooks: {not json") is None and "not JSON" in p.warnings[-1]
    assert p.feed('tunehooks: {"step": -1, "acc": 1}') is None
    assert p.feed("acc\t0.91") is None
    assert p.feed("other\t3") is None and p.feed("loss\tabc") is None
    assert p.finals == {"acc": 0.91}


def test_detect_gpus_from_the_environment_and_nvidia_smi() -> None:
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": "0,2"}) == ["0", "2"]
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == []
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": "GPU-aa, GPU-bb"}) == ["GPU-aa", "GPU-bb"]
    assert detect_gpus({}, nvidia_smi="no-such-nvidia-smi") == []


def test_detect_gpus_parses_nvidia_smi_output(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "nvidia-smi"  # a real executable printing what nvidia-smi -L prints
    fake.write_text(
        "#!/bin/sh\necho 'GPU 0: NVIDIA H100 (UUID: GPU-1)'\necho 'GPU 1: NVIDIA H100 (UUID: GPU-2)'\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}")
    assert detect_gpus({}) == ["0", "1"]


def test_slots_hand_out_gpus_in_groups_and_fall_back_to_cpu() -> None:
    slots, note = make_slots(workers=None, gpus_per_trial=2, devices=["0", "1", "2", "3", "4"])
    assert [s.gpus for s in slots] == [("0", "1"), ("2", "3")]
    assert note == "resources.gpus_per_trial=2 on 5 GPUs: GPU 4 stays idle"
    assert slots[1].cuda_visible_devices == "2,3"
    slots, note = make_slots(workers=8, gpus_per_trial=1, devices=["0", "1"])
    assert len(slots) == 2 and note is not None and "2 slots" in note
    slots, note = make_slots(workers=3, gpus_per_trial=1, devices=[])
    assert slots == [Slot(0), Slot(1), Slot(2)] and note is not None and "CPU" in note
    slots, note = make_slots(workers=None, gpus_per_trial=0, devices=["0"])
    assert slots == [Slot(0)] and note is None
    with pytest.raises(ValueError, match="gpus_per_trial"):
        make_slots(workers=None, gpus_per_trial=4, devices=["0", "1"])


def test_progress_lines_show_counts_best_cost_and_eta(storage_url: str) -> None:
    import io

    import tunehooks as th
    from tunehooks.launch import LogProgress
    from tunehooks.launch.progress import sweep_stats

    exp = th.Experiment.create(
        "p",
        th.SearchSpace({"x": th.Float(0.0, 1.0)}),
        metrics=[th.Metric("acc", goal="maximize")],
        budget=th.Budget(4, cost=2.0),
        fidelity=th.Fidelity(min=1, max=4, scheduler="none"),
        storage=storage_url,
        method="random",
    )
    t = exp.ask()
    assert t is not None
    t.report(1, {"acc": 0.5})
    t.report(2, {"acc": 0.75})
    t.prune()
    t2 = exp.ask()
    assert t2 is not None
    t2.complete({"acc": 0.9})
    stats = sweep_stats(exp, durations=[10.0, 10.0], slots=2, elapsed=20.0)
    assert (stats.done, stats.completed, stats.pruned, stats.running) == (2, 1, 1, 0)
    assert stats.cost == pytest.approx(1.5) and stats.best == "acc=0.9 (trial 1)"
    assert stats.eta == pytest.approx(min(2 * 10 / 2, 0.5 * 20 / 1.5))
    out = io.StringIO()
    p = LogProgress(out, timestamps=False)
    p.update(stats)
    p.update(stats)  # unchanged counts: not printed twice
    p.event("trial 2 started")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("done 2/4  cost 1.50/2  running 0  completed 1  pruned 1")
    assert "best acc=0.9 (trial 1)" in lines[0] and "eta 7s" in lines[0]
    assert lines[1:] == ["trial 2 started"]
