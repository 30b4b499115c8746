"""The dashboard left open on a running PostgreSQL sweep: it sees the trials arrive and
the workers finish as if it were not there (read-only transactions, no locks kept)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request

import pytest

import tunehooks as th
from tunehooks.dashboard import DashboardServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKER = textwrap.dedent(
    """
    import sys, time
    import tunehooks as th
    exp = th.Experiment.load("pg-live", storage=sys.argv[1])
    exp.report_interval = 0
    for trial in exp.ask_loop():
        for step in range(1, 6):
            trial.report(step, {"acc": trial.params["x"] * step / 5})
            time.sleep(0.01)
        trial.complete()
    """
)


def test_dashboard_on_a_running_postgres_sweep(pg_url: str) -> None:
    th.Experiment.create(
        "pg-live",
        th.SearchSpace({"x": th.Float(0, 1)}),
        metrics=[th.Metric("acc", goal="maximize")],
        budget=th.Budget(trials=24),
        storage=pg_url,
        method="random",
    )
    srv = DashboardServer(pg_url, port=0, interval=0.2)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            with urllib.request.urlopen(srv.address + "api/experiments/pg-live", timeout=60) as r:
                d = json.load(r)
            seen.append(d["counts"]["COMPLETED"])
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        t0 = time.perf_counter()
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, pg_url], stderr=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ]
        for w in workers:
            _, err = w.communicate(timeout=300)
            assert w.returncode == 0, err[-2000:]
        elapsed = time.perf_counter() - t0
    finally:
        stop.set()
        watcher.join(timeout=120)
    with urllib.request.urlopen(srv.address + "api/experiments/pg-live", timeout=60) as r:
        final = json.load(r)
    srv.shutdown()
    srv.server_close()
    assert final["counts"]["COMPLETED"] == 24 and final["best"] is not None
    assert len(final["figures"]["curves"]["data"]) >= 1
    # it watched the sweep progress: several distinct counts on the way up
    assert len(set(seen)) >= 3 and seen == sorted(seen), seen
    assert elapsed < 240, elapsed
