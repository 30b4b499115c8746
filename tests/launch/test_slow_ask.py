"""A slow ask (a GP fit, seconds) does not stop the launcher: while the next trial is being
asked for, the running trials' output is read and their heartbeats are written."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tunehooks as th
from tunehooks.launch import Launcher, LogProgress, parse_sweep
from tunehooks.schedulers import NoScheduler
from tunehooks.trial import TrialRecord

TICKER = """
    import argparse, json, time
    p = argparse.ArgumentParser()
    p.add_argument("--x", type=float)
    a = p.parse_args()
    for step in range(1, 41):
        print("tunehooks: " + json.dumps({"step": step, "y": a.x}), flush=True)
        time.sleep(0.1)
"""


class DeliberatingScheduler(NoScheduler):
    """Never stops a trial, but takes ``seconds`` to decide whether to resume a paused one
    (as a promotion scheduler would), on every ask after the first: each ask is slow."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.asks: list[tuple[float, float]] = []  # (start, end) of each slow ask

    def promote(self, history: Sequence[TrialRecord], *, more_trials: bool) -> None:
        if history:
            start = time.time()
            time.sleep(self.seconds)
            self.asks.append((start, time.time()))


def test_output_and_heartbeats_go_on_during_a_slow_ask(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(textwrap.dedent(TICKER))
    sweep = parse_sweep(
        {
            "name": "slow-ask",
            "program": "train.py",
            "command": ["${interpreter}", "${program}", "${args}"],
            "method": "random",
            "metric": {"name": "y", "goal": "maximize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "budget": {"trials": 2},
            "resources": {"workers": 2, "gpus_per_trial": 0},
        },
        path=tmp_path / "sweep.yaml",
    )
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    scheduler = DeliberatingScheduler(seconds=3.0)
    launcher = Launcher(
        sweep,
        storage=url,
        runs_dir=tmp_path / "runs",
        progress=LogProgress(open(tmp_path / "log.txt", "w"), timestamps=False),  # noqa: SIM115
        cwd=tmp_path,
        scheduler=scheduler,
        heartbeat_interval=0.3,
        poll_interval=0.05,
    )
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.setdefault("result", launcher.run()))
    thread.start()
    stdout = tmp_path / "runs" / "slow-ask"
    seen: list[tuple[float, float, int]] = []  # (time, first trial's heartbeat, stdout bytes)
    exp = None
    while thread.is_alive():
        time.sleep(0.1)
        if exp is None:
            try:
                exp = th.Experiment.load("slow-ask", storage=url)
            except Exception:
                continue
        trials = exp.get_trials(with_reports=False)
        if trials:
            log = stdout / str(trials[0].id) / "stdout.log"
            size = log.stat().st_size if log.exists() else 0
            seen.append((time.time(), trials[0].heartbeat_at or 0.0, size))
    thread.join()
    assert out["result"].completed == 2
    assert scheduler.asks, "the second ask was not slow"
    start, end = scheduler.asks[0]
    during = [s for s in seen if start + 0.5 <= s[0] <= end - 0.2]
    assert len(during) >= 5
    beats = {b for _, b, _ in during}
    sizes = [n for _, _, n in during]
    assert len(beats) >= 3, f"no heartbeat while the next trial was asked for: {during}"
    assert sizes[-1] > sizes[0], f"no output read while the next trial was asked for: {during}"
