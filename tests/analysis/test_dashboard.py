"""The dashboard's figures (checked on their data), its JSON endpoints on a real HTTP
server, and `tunehooks dashboard` started as a user starts it."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

import tunehooks as th
from tunehooks import analysis as an
from tunehooks.dashboard import DashboardServer
from tunehooks.dashboard import figures as dfig
from tunehooks.dashboard.api import DashboardData, run_folder


@pytest.fixture
def server(lr_sweep: th.Experiment) -> Iterator[DashboardServer]:
    srv = DashboardServer(lr_sweep.storage.url, port=0, runs_dir=str(_runs(lr_sweep)))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _runs(exp: th.Experiment):
    from pathlib import Path

    return Path(exp.storage.url.removeprefix("sqlite:///")).parent / "runs"


def get(srv: DashboardServer, path: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(srv.address + path.lstrip("/"), timeout=60) as r:
            return r.status, json.loads(r.read().decode(), parse_constant=_no_constant)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


def test_slice_figures_use_log_axes_for_log_parameters(lr_sweep: th.Experiment) -> None:
    sl = an.slices(lr_sweep, params=["lr", "width", "momentum", "opt"])
    specs = {s["param"]: s for s in dfig.slice_figures(lr_sweep, sl, metric="loss")}
    assert specs["lr"]["layout"]["xaxis"]["type"] == "log"
    assert specs["width"]["layout"]["xaxis"]["type"] == "log"
    assert "type" not in specs["momentum"]["layout"]["xaxis"]
    assert specs["opt"]["layout"]["xaxis"]["type"] == "category"
    assert specs["opt"]["layout"]["xaxis"]["categoryarray"] == ["sgd", "adam"]
    # the points are the completed trials, with their numbers for the hover
    done = [t for t in lr_sweep.get_trials() if t.state is th.TrialState.COMPLETED]
    assert sorted(specs["lr"]["data"][0]["customdata"]) == sorted(t.number for t in done)


def test_parallel_coordinates_ticks_and_colour_bar(lr_sweep: th.Experiment) -> None:
    spec = dfig.parallel_coordinates_figure(lr_sweep, lr_sweep.get_trials(), metric="loss")
    (trace,) = spec["data"]
    dims = {d["label"]: d for d in trace["dimensions"]}
    lr = dims["lr (log)"]
    assert lr["ticktext"] == ["0.0001", "0.001", "0.01", "0.1", "1"]
    assert lr["tickvals"] == pytest.approx([-4, -3, -2, -1, 0])
    done = [t for t in lr_sweep.get_trials() if t.state is th.TrialState.COMPLETED]
    assert lr["values"] == pytest.approx([math.log10(t.params["lr"]) for t in done])
    assert dims["opt"]["ticktext"] == ["sgd", "adam"]
    # momentum exists only for sgd: the adam trials sit on an "inactive" tick below the range
    mom = dims["momentum"]
    assert mom["ticktext"][0] == "inactive"
    inactive = [v for v, t in zip(mom["values"], done, strict=True) if t.params["opt"] == "adam"]
    assert inactive and set(inactive) == {mom["tickvals"][0]}
    assert dims["loss"]["values"] == pytest.approx([t.values["loss"] for t in done])
    assert trace["line"]["showscale"] is True
    assert trace["line"]["colorbar"]["title"]["text"] == "loss (minimize)"
    assert trace["line"]["reversescale"] is True  # minimized: the best is bright


def test_importance_figure_carries_error_bars_and_the_warning(lr_sweep: th.Experiment) -> None:
    imps = an.parameter_importance(lr_sweep)
    spec = dfig.importance_figure(imps, metric="loss")
    bar = spec["data"][0]
    assert bar["y"][-1] == "lr"  # the most important at the top
    assert bar["error_x"]["array"] == pytest.approx([i.std for i in reversed(imps)])
    assert "38 trials, 8 pruned" in spec["layout"]["title"]["text"]
    assert spec["warning"] is None
    few = [an.Importance(i.name, i.value, i.std, n_trials=5) for i in imps]
    assert "only 5 trials" in dfig.importance_figure(few, metric="loss")["warning"]


def test_learning_curves_mark_pruned_and_running_trials(scripted: th.Experiment) -> None:
    spec = dfig.learning_curves_figure(scripted, scripted.get_trials(), metric="acc")
    by_name = {d["name"]: d for d in spec["data"]}
    assert by_name["pruned"]["line"]["dash"] == "dash"
    assert by_name["pruned here"]["x"] == [2] and by_name["pruned here"]["y"] == [0.5]
    assert by_name["running: latest report"]["customdata"] == [7]
    assert by_name["best (trial 6)"]["y"][-1] == pytest.approx(0.90 * (1 - 0.5**4))


def test_best_so_far_and_pareto_figures(lr_sweep: th.Experiment) -> None:
    history = lr_sweep.get_trials()
    spec = dfig.best_so_far_figure(lr_sweep, history, metric="loss")
    best = next(d for d in spec["data"] if d["name"] == "best so far")
    trace = an.best_so_far(lr_sweep, metric="loss", trials=history)
    assert best["y"] == [b for b in trace.best if b is not None]
    pareto = dfig.pareto_figure(lr_sweep, history)
    assert pareto is not None
    front = an.pareto_front(lr_sweep, trials=history)
    assert pareto["data"][1]["customdata"] == [t.number for t in front.front]


def test_api_answers_strict_json_for_every_endpoint(server: DashboardServer) -> None:
    status, exps = get(server, "/api/experiments")
    assert status == 200 and [e["name"] for e in exps] == ["lr-only"]  # type: ignore[index]
    status, d = get(server, "/api/experiments/lr-only")
    assert status == 200
    assert isinstance(d, dict)
    assert d["counts"] == {
        "QUEUED": 0,
        "RUNNING": 0,
        "COMPLETED": 30,
        "PRUNED": 8,
        "FAILED": 2,
        "PAUSED": 0,
    }
    assert len(d["trials"]) == 40
    assert set(d["figures"]) == {
        "best_so_far",
        "curves",
        "parallel",
        "importance",
        "slices",
        "pareto",
    }
    assert set(d["figures"]["best_so_far"]) == {"trials", "epochs", "hours"}
    assert not any("GPU" in label for label, _ in d["costs"])
    status, ms = get(server, "/api/experiments/lr-only?metric=ms")
    assert status == 200 and ms["metric"] == "ms"  # type: ignore[index]
    status, err = get(server, "/api/experiments/nope")
    assert status == 404 and "no experiment 'nope'" in err["error"]  # type: ignore[index]
    status, err = get(server, "/api/experiments/lr-only/trials/99")
    assert status == 404 and "no trial 99" in err["error"]  # type: ignore[index]
    with urllib.request.urlopen(server.address + "static/plotly.min.js", timeout=60) as r:
        assert r.headers["Content-Type"].startswith("text/javascript")
        assert len(r.read()) > 1_000_000  # the real bundle, from the plotly package


def test_trial_details_with_the_logs_tail(lr_sweep: th.Experiment, server: DashboardServer) -> None:
    t = next(t for t in lr_sweep.get_trials() if t.state is th.TrialState.FAILED)
    folder = run_folder(_runs(lr_sweep), "lr-only", t.id)
    folder.mkdir(parents=True)
    (folder / "stdout.log").write_text("x" * 10_000 + "\nepoch 3 loss nan\n")
    status, d = get(server, f"/api/experiments/lr-only/trials/{t.number}")
    assert status == 200 and isinstance(d, dict)
    assert d["state"] == "FAILED" and d["error"] == "diverged"
    assert d["logs"]["stdout"].endswith("epoch 3 loss nan\n")
    assert len(d["logs"]["stdout"]) == 4000 and d["logs"]["stderr"] is None
    pruned = next(t for t in lr_sweep.get_trials() if t.state is th.TrialState.PRUNED)
    status, d = get(server, f"/api/experiments/lr-only/trials/{pruned.number}")
    assert [p[0] for p in d["curves"]["loss"]] == [1, 2]  # type: ignore[index]


def test_run_folder_is_where_the_launcher_writes_logs() -> None:
    from tunehooks.launch.process import safe_name

    for name in ("digits", "a b/c", "ü-x.1"):
        assert run_folder("runs", name, 7).parts[1] == safe_name(name)


def test_the_dashboard_never_writes(lr_sweep: th.Experiment, server: DashboardServer) -> None:
    db = _runs(lr_sweep).parent / "tunehooks.db"
    lr_sweep.storage.close()
    before = db.read_bytes()
    for path in (
        "/api/experiments",
        "/api/experiments/lr-only",
        "/api/experiments/lr-only/trials/0",
    ):
        assert get(server, path)[0] == 200
    assert db.read_bytes() == before
    data = DashboardData(lr_sweep.storage.url)
    with pytest.raises(th.storage.StorageError, match="read-only"):
        data.store.delete_experiment("lr-only")
    data.close()


def test_cli_dashboard_serves_until_stopped(lr_sweep: th.Experiment, tmp_path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tunehooks",
            "dashboard",
            "--storage",
            lr_sweep.storage.url,
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "read-only" in line and "http://127.0.0.1:" in line, line
        address = line.split(" at ")[1].split(" ")[0]
        with urllib.request.urlopen(address, timeout=60) as r:
            page = r.read().decode()
        assert '<script src="/static/plotly.min.js">' in page and "cdn" not in page.lower()
        with urllib.request.urlopen(address + "api/experiments", timeout=60) as r:
            assert json.load(r)[0]["name"] == "lr-only"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tunehooks",
            "dashboard",
            "--storage",
            f"sqlite:///{tmp_path}/no.db",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "no database at" in out.stderr
    assert out.stderr.count("\n") == 1


def test_polls_refit_no_forest_until_a_trial_finishes(scripted: th.Experiment) -> None:
    data = DashboardData(scripted.storage.url)
    t0 = time.perf_counter()
    first = data.experiment("scripted")
    fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = data.experiment("scripted")
    cached = time.perf_counter() - t0
    assert again["figures"]["importance"] == first["figures"]["importance"]
    assert cached < fit
    running = next(t for t in scripted.get_trials() if t.state is th.TrialState.RUNNING)
    scripted.trial_handle(running.id).complete({"acc": 0.5, "ms": 10})
    after = data.experiment("scripted")
    assert after["figures"]["importance"]["layout"] != first["figures"]["importance"]["layout"]
    data.close()


def test_cli_dashboard_bad_options_are_one_line(lr_sweep: th.Experiment) -> None:
    import socket

    url = lr_sweep.storage.url
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for extra, says in (
            (["--port", str(port)], f"cannot listen on 127.0.0.1:{port}"),
            (["--port", "0", "--interval", "0"], "interval must be a positive number"),
        ):
            out = subprocess.run(
                [sys.executable, "-m", "tunehooks", "dashboard", "--storage", url, *extra],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert out.returncode == 2, (extra, out.stderr)
            assert says in out.stderr and out.stderr.count("\n") == 1, out.stderr


def test_cli_dashboard_reads_the_logs_of_its_runs_dir(lr_sweep: th.Experiment, tmp_path) -> None:
    t = lr_sweep.get_trials()[0]
    folder = run_folder(tmp_path / "my-runs", "lr-only", t.id)
    folder.mkdir(parents=True)
    (folder / "stderr.log").write_text("Traceback: boom\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tunehooks",
            "dashboard",
            "--storage",
            lr_sweep.storage.url,
            "--port",
            "0",
            "--runs-dir",
            str(tmp_path / "my-runs"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().split(" at ")[1].split(" ")[0]
        with urllib.request.urlopen(f"{address}api/experiments/lr-only/trials/0", timeout=60) as r:
            assert json.load(r)["logs"]["stderr"] == "Traceback: boom\n"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    from tunehooks.dashboard.server import exposure_warning

    assert exposure_warning("127.0.0.1") is None and exposure_warning("::1") is None
    assert "anyone who can reach this machine" in (exposure_warning("0.0.0.0") or "")
