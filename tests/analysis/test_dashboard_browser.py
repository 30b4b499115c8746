"""The dashboard in a real headless Chromium: the page loads with plotly.js from the
package, a trial appears while a sweep runs (another process writing the database),
the values shown are read back from the DOM, the table filters and sorts, and a page
of 1,000 trials stays fast."""

from __future__ import annotations

import html as htmllib
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

import tunehooks as th
from tunehooks.dashboard import DashboardServer

pytestmark = pytest.mark.slow


def chromium() -> str:
    """The browser scripts/system-deps.sh installs (as in test_browser.py)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is not installed: run scripts/system-deps.sh")
    return found


def dom(url: str, tmp_path, *, budget_ms: int = 20000, timeout: float = 240) -> str:
    out = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--virtual-time-budget={budget_ms}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def rows(page: str) -> list[list[str]]:
    body = re.search(r'<table id="trials">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body is not None, page[:1000]
    out = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S):
        out.append([htmllib.unescape(c) for c in re.findall(r"<td>(.*?)</td>", tr, re.S)])
    return out


def text_of(page: str, id_: str) -> str:
    m = re.search(rf'id="{id_}"[^>]*>(.*?)</', page, re.S)
    assert m is not None, id_
    return htmllib.unescape(m.group(1))


@pytest.fixture
def serve() -> Iterator[list[DashboardServer]]:
    started: list[DashboardServer] = []
    yield started
    for srv in started:
        srv.shutdown()
        srv.server_close()


def start(url: str, started: list[DashboardServer], *, interval: float = 0.5) -> DashboardServer:
    srv = DashboardServer(url, port=0, interval=interval)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    started.append(srv)
    return srv


SWEEP = textwrap.dedent(
    """
    import sys
    import tunehooks as th
    exp = th.Experiment.load("live", storage=sys.argv[1])
    t = exp.ask()
    for step in (1, 2, 3):
        t.report(step, {"acc": 0.9 + step / 100})
    t.complete()
    print(t.number)
    """
)


def test_a_trial_appears_while_a_sweep_runs(storage_url: str, tmp_path, serve) -> None:
    exp = th.Experiment.create(
        "live",
        th.SearchSpace(
            {"lr": th.Float(1e-4, 1.0, log=True), "opt": th.Categorical(["sgd", "adam"])}
        ),
        metrics=[th.Metric("acc", goal="maximize")],
        budget=th.Budget(trials=10),
        storage=storage_url,
        method="random",
        seed=0,
    )
    for i in range(2):
        t = exp.ask()
        assert t is not None
        t.report(1, {"acc": 0.5 + i / 10})
        t.complete()
    running = exp.ask()
    assert running is not None
    running.report(1, {"acc": 0.3})
    exp.get_trials()  # the report is written
    srv = start(storage_url, serve)
    wrote: list[str] = []

    def sweep() -> None:  # once the page has polled a few times, a worker finishes a trial
        deadline = time.time() + 120
        while srv.requests < 16 and time.time() < deadline:  # the page, its files, 5+ polls
            time.sleep(0.02)
        out = subprocess.run(
            [sys.executable, "-c", SWEEP, storage_url], capture_output=True, text=True, timeout=120
        )
        wrote.append(out.stdout.strip() or out.stderr)

    writer = threading.Thread(target=sweep)
    writer.start()
    page = dom(srv.address + "?interval=0.5", tmp_path, budget_ms=60000)
    writer.join(timeout=120)
    assert wrote == ["3"], wrote
    m = re.search(r'data-seen="([\d*,]+)"', page)
    assert m is not None, page[:2000]
    seen = [tuple(int(x) for x in run.split("*")) for run in m.group(1).split(",")]
    # the same page load saw 3 trials (several polls), then 4: it updated live
    assert [n for n, _ in seen] == [3, 4] and seen[0][1] >= 3 and seen[1][1] >= 1, seen
    table = {r[0]: r for r in rows(page)}
    assert set(table) == {"0", "1", "2", "3"}
    assert table["2"][1] == "RUNNING" and table["2"][2] == "0.3"
    assert table["3"][1:4] == ["COMPLETED", "0.93", "3"]
    assert "opt=" in table["3"][5] and "lr=" in table["3"][5]
    assert text_of(page, "best-value") == "acc = 0.93"
    assert text_of(page, "best-trial") == "(trial 3)"
    assert text_of(page, "trial-count") == "(4 of 4 shown)"
    assert "cannot read the storage" not in page
    # every figure was drawn by plotly.js (served by the package: no network)
    for fig in ("fig-best", "fig-curves", "fig-parallel", "fig-importance"):
        assert re.search(rf'<div id="{fig}" class="fig js-plotly-plot"', page), fig
    assert "at least 4 completed or pruned trials" in text_of(page, "importance-warning")  # 3 ended


def test_the_table_filters_and_sorts(lr_sweep: th.Experiment, tmp_path, serve) -> None:
    srv = start(lr_sweep.storage.url, serve)
    page = dom(srv.address + "?filter=adam&sort=value&state=COMPLETED", tmp_path)
    shown = rows(page)
    trials = {t.number: t for t in lr_sweep.get_trials()}
    expected = sorted(
        (t for t in trials.values() if t.params["opt"] == "adam" and t.state.value == "COMPLETED"),
        key=lambda t: (t.values["loss"], t.number),
    )
    assert [int(r[0]) for r in shown] == [t.number for t in expected]
    assert all("opt=adam" in r[5] and r[1] == "COMPLETED" for r in shown)
    page = dom(srv.address + "?sort=value&desc=1", tmp_path)
    values = [float(r[2]) for r in rows(page) if r[2]]
    assert values == sorted(values, reverse=True) and len(values) == 38  # 30 final, 8 pruned


def test_a_thousand_trials(storage_url: str, tmp_path, serve) -> None:
    exp = th.Experiment.create(
        "big",
        th.SearchSpace({"lr": th.Float(1e-4, 1.0, log=True), "width": th.Int(8, 256, log=True)}),
        metrics=[th.Metric("acc", goal="maximize"), th.Metric("ms", goal="minimize")],
        budget=th.Budget(trials=1000),
        storage=storage_url,
        method="random",
    )
    for i, t in enumerate(exp.ask_loop()):
        for step in (1, 2, 3):
            t.report(step, {"acc": (i % 97) / 100 * step / 3, "ms": float(t.params["width"])})
        if i % 4 == 3:
            t.prune()
        else:
            t.complete()
    srv = start(storage_url, serve, interval=2.0)
    t0 = time.perf_counter()
    page = dom(srv.address, tmp_path, budget_ms=5000)
    elapsed = time.perf_counter() - t0
    assert len(rows(page)) == 1000
    assert text_of(page, "trial-count") == "(1000 of 1000 shown)"
    assert re.search(r'<div id="fig-pareto" class="fig js-plotly-plot"', page)
    assert elapsed < 120, elapsed


def test_the_page_never_hangs_when_its_experiment_goes_away(
    storage_url: str, tmp_path, serve
) -> None:
    for name, acc in (("first", 0.7), ("second", 0.8)):
        exp = th.Experiment.create(
            name,
            th.SearchSpace({"x": th.Float(0, 1)}),
            metrics=[th.Metric("acc", goal="maximize")],
            budget=th.Budget(trials=1),
            storage=storage_url,
            method="random",
        )
        for t in exp.ask_loop():
            t.complete({"acc": acc})
    srv = start(storage_url, serve, interval=0.5)
    done: list[int] = []

    def delete() -> None:  # the experiment on screen is deleted while the page polls it
        while srv.requests < 16:
            time.sleep(0.02)
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "tunehooks",
                "delete",
                "first",
                "--yes",
                "--storage",
                storage_url,
            ],
            capture_output=True,
            timeout=120,
        )
        done.append(out.returncode)

    thread = threading.Thread(target=delete)
    thread.start()
    page = dom(srv.address, tmp_path, budget_ms=40000)
    thread.join(timeout=120)
    assert done == [0]
    assert text_of(page, "exp-name") == "second"
    assert text_of(page, "best-value") == "acc = 0.8"
    assert 'data-name="first"' not in page
    assert "cannot read the storage" not in text_of(page, "status")


def test_one_trials_details(lr_sweep: th.Experiment, tmp_path, serve) -> None:
    from tunehooks._format import format_number
    from tunehooks.dashboard.api import run_folder

    failed = next(t for t in lr_sweep.get_trials() if t.state is th.TrialState.FAILED)
    folder = run_folder(tmp_path / "runs", "lr-only", failed.id)
    folder.mkdir(parents=True)
    (folder / "stdout.log").write_text("epoch 1 loss 0.9\nepoch 2 loss nan\n")
    srv = DashboardServer(lr_sweep.storage.url, port=0, runs_dir=tmp_path / "runs")
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    serve.append(srv)
    page = dom(srv.address + f"?trial={failed.number}", tmp_path)
    assert text_of(page, "detail-number") == f"{failed.number} (FAILED)"
    assert 'id="trial-detail" hidden' not in page
    assert text_of(page, "detail-error") == "diverged"
    assert "epoch 2 loss nan" in text_of(page, "detail-logs")
    params = dict(
        re.findall(
            r"<tr><td>(.*?)</td><td>(.*?)</td></tr>",
            page.split('id="detail-params"')[1].split("</table>")[0],
        )
    )
    assert params["opt"] == failed.params["opt"]
    assert params["lr"] == format_number(failed.params["lr"])
    pruned = next(t for t in lr_sweep.get_trials() if t.state is th.TrialState.PRUNED)
    page = dom(srv.address + f"?trial={pruned.number}", tmp_path)
    assert text_of(page, "detail-number") == f"{pruned.number} (PRUNED)"
    assert re.search(r'<div id="fig-detail" class="fig js-plotly-plot"', page)
    assert "(no logs found)" in text_of(page, "detail-logs")
