"""Method adapters with one shape: ``ask() -> params``, ``tell(value)``, ``close()``.

tunehooks' optimizers run in this process through their pure interface: the
history is a list of :class:`tunehooks.TrialRecord` built in memory (no storage).
Peers run in their own venvs as a subprocess (``peer_worker.py``), one process
per (method, problem, seed) run, talking JSON lines.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunehooks.metrics import Metric
from tunehooks.optimizers import make_optimizer
from tunehooks.space import SearchSpace
from tunehooks.trial import TrialRecord, TrialState

__all__ = [
    "METHODS",
    "PEER_VENV",
    "MethodUnavailable",
    "open_method",
    "peer_status",
    "valid_run",
]

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().parent / "peer_worker.py"
OBJECTIVE = Metric("objective", goal="minimize")

# method name -> (label, peer venv or None for tunehooks itself)
METHODS: dict[str, tuple[str, str | None]] = {
    "bayes": ("tunehooks bayes", None),
    "random": ("tunehooks random", None),
    "sobol": ("tunehooks sobol", None),
    "optuna_tpe": ("Optuna TPE (multivariate, group)", "optuna"),
    "optuna_gp": ("Optuna GPSampler", "optuna"),
    "hebo": ("HEBO", "hebo"),
    "smac": ("SMAC3 HPO facade (RF)", "smac"),
    "ax": ("Ax (BoTorch)", "ax"),
}
PEER_VENV = {m: v for m, (_, v) in METHODS.items() if v}


class MethodUnavailable(RuntimeError):
    """A method that cannot run here (peer not installed, GP not landed yet)."""


def peer_status(venv: str) -> str | None:
    """``None`` when the peer's venv is ready, else why not."""
    d = ROOT / "bench" / ".venvs" / venv
    if (d / ".ok").exists():
        return None
    if (d / "FAILED").exists():
        return "install failed: " + (d / "FAILED").read_text().strip().splitlines()[-1][:200]
    return "not set up (run bench/blackbox/setup_peers.sh)"


def history_record(i: int, params: Mapping[str, Any], value: float) -> TrialRecord:
    return TrialRecord(
        id=i + 1,
        number=i,
        state=TrialState.COMPLETED,
        params=dict(params),
        values={OBJECTIVE.name: float(value)},
    )


class TunehooksMethod:
    def __init__(self, method: str, space: SearchSpace, seed: int) -> None:
        try:
            self.opt = make_optimizer(method, space, [OBJECTIVE], seed=seed)
        except ImportError as e:
            raise MethodUnavailable(f"tunehooks {method}: {e}") from e
        self.history: list[TrialRecord] = []
        self.last: dict[str, Any] = {}
        self.versions = _tunehooks_versions()

    def ask(self) -> tuple[dict[str, Any], float]:
        t = time.perf_counter()
        sug = self.opt.suggest(self.history)
        dt = time.perf_counter() - t
        if sug is None:
            raise RuntimeError("optimizer returned no suggestion")
        self.last = dict(sug.params)
        return self.last, dt

    def tell(self, value: float) -> None:
        self.history.append(history_record(len(self.history), self.last, value))

    def close(self) -> None:
        pass


class PeerMethod:
    def __init__(self, method: str, space: SearchSpace, seed: int, **job: Any) -> None:
        venv = PEER_VENV[method]
        why = peer_status(venv)
        if why:
            raise MethodUnavailable(f"{method}: {why}")
        python = ROOT / "bench" / ".venvs" / venv / "bin" / "python"
        self.proc = subprocess.Popen(
            [str(python), str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.space = space
        self._send({"method": method, "space": space.to_dict(), "seed": seed, **job})
        self.versions: dict[str, str] = self._recv()["versions"]

    def _send(self, obj: dict[str, Any]) -> None:
        if self.proc.stdin is None:
            raise RuntimeError("peer stdin closed")
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def _recv(self) -> dict[str, Any]:
        if self.proc.stdout is None:
            raise RuntimeError("peer stdout closed")
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise RuntimeError(f"peer worker exited with {self.proc.returncode}")
        out: dict[str, Any] = json.loads(line)
        return out

    def ask(self) -> tuple[dict[str, Any], float]:
        self._send({"ask": 1})
        msg = self._recv()
        return _conform(self.space, msg["params"]), float(msg["ask_s"])

    def tell(self, value: float) -> None:
        self._send({"value": value})

    def result(self) -> dict[str, Any]:
        return self._recv()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _conform(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, Any]:
    """Clip floats a peer returned a rounding error outside the bounds, then validate."""
    from tunehooks.params import Float

    fixed = dict(params)
    for name, p in space.params.items():
        if isinstance(p, Float) and name in fixed:
            fixed[name] = min(p.high, max(p.low, float(fixed[name])))
    return space.validate(fixed)


def open_method(
    method: str, space: SearchSpace, seed: int, *, evals: int
) -> TunehooksMethod | PeerMethod:
    if METHODS[method][1] is None:
        return TunehooksMethod(method, space, seed)
    return PeerMethod(method, space, seed, mode="run", evals=evals)


def valid_run(raw: Mapping[str, Any]) -> bool:
    """False for cached runs made by an older, wrong adapter (SMAC before its n_trials fix)."""
    return raw.get("method") != "smac" or "initial_design" in raw.get("versions", {})


def _tunehooks_versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {}
    for pkg in ("torch", "gpytorch", "botorch", "numpy", "scipy"):
        try:
            out[pkg] = version(pkg)
        except Exception:
            out[pkg] = "-"

    def git(*args: str) -> str:
        try:
            r = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        except OSError:
            return ""
        return r.stdout.strip()

    import tunehooks

    snapshot = Path(tunehooks.__file__).resolve().parents[2] / "REV"
    if snapshot.exists():  # run.sh --at REV: a snapshot of one commit, not the working tree
        rev = snapshot.read_text().strip()
        return {**out, "tunehooks": rev, "gp": rev}
    for key, path in (("tunehooks", "src/tunehooks"), ("gp", "src/tunehooks/optimizers/gp")):
        rev = git("log", "-1", "--format=%h", "--", path) or "none"
        dirty = git("status", "--porcelain", "--", path)
        out[key] = rev + ("+uncommitted" if dirty else "")
    return out
