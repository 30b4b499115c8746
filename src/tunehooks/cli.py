"""The ``tunehooks`` command line. Parsing and printing only: the work is done by
the library. Heavy modules are imported inside the commands so that
``tunehooks --help`` answers at once."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tunehooks.experiment import Experiment

from tunehooks import _cli_manage as manage
from tunehooks._cli_common import CLIError, fmt, require_database, table

__all__ = ["main"]


def _storage_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--storage",
        default=None,
        help="database URL (default: $TUNEHOOKS_STORAGE or sqlite:///tunehooks.db)",
    )


def _load(name: str | None, storage: str | None) -> Experiment:
    """Experiment ``name`` opened read-only: a command that reads never writes, and a
    missing database is an error rather than a new empty file."""
    from tunehooks.analysis._data import ReadOnlyStorage, load_from

    return load_from(ReadOnlyStorage(require_database(storage)), name)


def cmd_status(args: argparse.Namespace) -> int:
    from tunehooks._format import format_params
    from tunehooks.trial import TrialState

    exp = _load(args.experiment, args.storage)
    trials = exp.get_trials()
    counts = {s: 0 for s in TrialState}
    for t in trials:
        counts[t.state] += 1
    n_used, cost = exp.budget_used(trials)
    print(f"experiment {exp.name}  method={exp.method.value}  storage={exp.storage.shown_url}")
    budget = exp.budget
    print(
        "trials: "
        + "  ".join(f"{s.value.lower()}={counts[s]}" for s in TrialState)
        + f"  budget={n_used}/{budget.trials if budget.trials else '-'}"
        + (f"  cost={cost:.2f}/{budget.cost:g}" if budget.cost else f"  cost={cost:.2f}")
    )
    metric_names = [m.name for m in exp.metrics]
    fid = exp.fidelity
    with_tasks = fid is not None and fid.tasks is not None
    rows = []
    for t in trials[-args.last :] if args.last else trials:
        curve = ""
        if t.reports and exp.objectives:
            name = exp.objectives[0].name
            pts = [r.metrics.get(name) for r in t.reports]
            curve = " ".join(fmt(p) for p in pts[-5:] if p is not None)
            if len(pts) > 5:
                curve = "… " + curve
        task = fid.task(t.fidelity) if with_tasks and fid is not None else None
        rows.append(
            [str(t.number), t.state.value, str(len(t.reports))]
            + ([] if task is None else [task.name])
            + [fmt(t.values.get(n, "")) for n in metric_names]
            + [format_params(t.params), curve, (t.error or "")[:60]]
        )
    if rows:
        head = ["#", "state", "steps", *(["task"] if with_tasks else []), *metric_names]
        print(table(rows, [*head, "params", "curve", "error"]))
    _print_checkpoints(exp, [t.id for t in trials], Path(args.runs_dir))
    _print_best(exp)
    return 0


def _print_checkpoints(exp: Experiment, trial_ids: list[int], runs_dir: Path) -> None:
    from tunehooks.checkpoint import disk_usage

    n, size, where = disk_usage(exp.name, trial_ids, runs_dir=runs_dir)
    if n:
        print(f"checkpoints: {n} trial{'s' if n != 1 else ''}, {size / 1e6:.1f} MB in {where}")


def _print_best(exp: Experiment) -> None:
    from tunehooks._format import format_params

    if len(exp.objectives) > 1:
        front = exp.pareto_front()
        print(f"pareto front: {len(front)} trials: {[t.number for t in front]}")
        return
    best = exp.best
    if best is None:
        print("best: none yet" + _best_below_full(exp))
    else:
        vals = ", ".join(f"{k}={fmt(v)}" for k, v in best.values.items())
        print(f"best: trial {best.number}  {vals}  params: {format_params(best.params)}")


def _best_below_full(exp: Experiment) -> str:
    """For a sweep with tasks and no trial of the full task yet: the best of the largest task
    tried (the task by its name)."""
    from tunehooks.metrics import Goal
    from tunehooks.trial import TrialState

    fid = exp.fidelity
    if fid is None or fid.tasks is None or not exp.objectives:
        return ""
    obj = exp.objectives[0]
    done = [
        t
        for t in exp.get_trials()
        if t.state is TrialState.COMPLETED and t.values.get(obj.name) is not None
    ]
    if not done:
        return ""
    top = max(t.fidelity or 0.0 for t in done)
    at_top = [t for t in done if (t.fidelity or 0.0) == top]
    sign = 1.0 if obj.goal is Goal.MAXIMIZE else -1.0
    t = max(at_top, key=lambda r: sign * float(r.values[obj.name]))
    task = fid.task(top)
    name = fid.task(None)
    return (
        f" at task {name.name if name else '-'}; so far, at task "
        f"{task.name if task else top}: trial {t.number}  {obj.name}={fmt(t.values[obj.name])}"
    )


def cmd_best(args: argparse.Namespace) -> int:
    exp = _load(args.experiment, args.storage)
    if args.json:
        picks = exp.pareto_front() if len(exp.objectives) > 1 else [t for t in [exp.best] if t]
        out = [
            {"number": t.number, "params": dict(t.params), "values": dict(t.values)} for t in picks
        ]
        print(json.dumps(out if len(exp.objectives) > 1 else (out[0] if out else None), indent=2))
    else:
        _print_best(exp)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    exp = _load(args.experiment, args.storage)
    if args.csv:
        n = exp.to_csv(args.csv)
        print(f"wrote {n} trials to {args.csv}")
    if args.json:
        data = exp.to_json(args.json)  # strict JSON: non-finite numbers become null
        print(f"wrote {len(data['trials'])} trials to {args.json}")
    for target in ("mlflow", "tensorboard"):
        where = getattr(args, target)
        if not where:
            continue
        from tunehooks.analysis import tracking

        try:
            if target == "mlflow":
                r = tracking.to_mlflow(
                    exp, tracking_uri=where, experiment_name=args.mlflow_experiment
                )
            else:
                r = tracking.to_tensorboard(exp, where)
        except ModuleNotFoundError as e:
            raise CLIError(str(e)) from None
        left = f"; {r.unfinished} running or queued left out" if r.unfinished else ""
        again = f"; {r.skipped} already there" if r.skipped else ""
        print(f"exported {r.exported} trials to {target} at {r.target}{again}{left}")
    if not (args.csv or args.json or args.mlflow or args.tensorboard):
        raise CLIError(
            "export: give --csv FILE, --json FILE, --mlflow URI and/or --tensorboard DIR"
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    try:
        from tunehooks.analysis import open_readonly, write_report

        exp = open_readonly(args.experiment, storage=require_database(args.storage))
        write_report(exp, args.out, metric=args.metric, gpus_per_trial=args.gpus_per_trial)
    except ModuleNotFoundError as e:
        raise CLIError(str(e)) from None
    print(f"wrote the report of {exp.name} to {args.out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    try:
        from tunehooks.analysis import compare_experiments

        n = compare_experiments(
            args.experiments,
            args.out,
            storage=args.storage,
            metric=args.metric,
            axis=args.axis,
            gpus_per_trial=args.gpus_per_trial,
        )
    except ModuleNotFoundError as e:
        raise CLIError(str(e)) from None
    print(f"compared {n} experiments in {args.out}")
    return 0


def cmd_launch(args: argparse.Namespace) -> int:
    import contextlib

    try:
        from tunehooks.launch import Launcher, load_sweep, make_progress

        sweep = load_sweep(args.sweep)
    except ModuleNotFoundError as e:
        raise CLIError(str(e)) from None
    if args.trials is not None:
        sweep = sweep.with_trials(args.trials)
    for note in sweep.notes:
        print(note, file=sys.stderr)
    if args.dry_run:
        from tunehooks.launch.dryrun import dry_run

        print(dry_run(sweep, storage=args.storage, commands=args.commands, as_json=args.json))
        return 0
    from tunehooks.storage import StorageUnavailableError

    progress = make_progress(f"tunehooks launch {sweep.name}")
    launcher = Launcher(
        sweep,
        storage=args.storage,
        workers=args.workers,
        runs_dir=args.runs_dir,
        progress=progress,
        retry_failed=args.retry_failed,
        executor=args.executor,
        address=args.address,
    )
    try:
        result = launcher.run()
    except ModuleNotFoundError as e:  # an optional extra (the executor ray's)
        raise CLIError(str(e)) from None
    except StorageUnavailableError as e:  # the database stayed away: not the user's input
        print(f"tunehooks launch: error: {e}", file=sys.stderr)
        return 1
    best = ""
    if result.best is not None:
        best = f"; best: trial {result.best.number} {dict(result.best.values)}"
    with contextlib.suppress(BrokenPipeError):  # `| head`: the sweep itself is done
        print(
            f"{result.experiment}: {result.started} trials started, {result.completed} "
            f"completed, {result.pruned} pruned, {result.failed} failed{best}"
        )
    return result.exit_code


Command = Callable[[argparse.Namespace], int]


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("tunehooks")
    except metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
        from tunehooks import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tunehooks",
        description="Tune deep-learning models: Bayesian optimization, early stopping, sweeps.",
    )
    parser.add_argument("--version", action="version", version=f"tunehooks {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="every experiment of the storage: trials per state, best")
    _storage_arg(p)
    p.set_defaults(func=manage.cmd_list)

    p = sub.add_parser("delete", help="delete an experiment with its trials (asks first)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask")
    p.add_argument("--force", action="store_true", help="even with trials still RUNNING")
    _storage_arg(p)
    p.set_defaults(func=manage.cmd_delete)

    p = sub.add_parser("rename", help="rename an experiment")
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    p.add_argument("--force", action="store_true", help="even with trials still RUNNING")
    _storage_arg(p)
    p.set_defaults(func=manage.cmd_rename)

    p = sub.add_parser("storage", help="database maintenance: `tunehooks storage upgrade`")
    storage_sub = p.add_subparsers(dest="storage_command", metavar="ACTION", required=True)
    q = storage_sub.add_parser("upgrade", help="migrate the database to this version's schema")
    _storage_arg(q)
    q.set_defaults(func=manage.cmd_storage_upgrade)

    p = sub.add_parser("dashboard", help="a live web dashboard of the storage's experiments")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any free one)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between the page's updates")
    p.add_argument(
        "--runs-dir", default="runs", help="where `tunehooks launch` wrote the trials' logs"
    )
    _storage_arg(p)
    p.set_defaults(func=manage.cmd_dashboard)

    p = sub.add_parser("status", help="trials, their states and the best so far")
    p.add_argument("experiment", nargs="?", help="experiment name (optional if only one)")
    p.add_argument("--last", type=int, default=0, help="show only the last N trials")
    p.add_argument(
        "--runs-dir",
        default="runs",
        help="where `tunehooks launch` wrote the trials' runs (their checkpoints' size is shown)",
    )
    _storage_arg(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("best", help="the best trial (or the Pareto front)")
    p.add_argument("experiment", nargs="?")
    p.add_argument("--json", action="store_true", help="print JSON")
    _storage_arg(p)
    p.set_defaults(func=cmd_best)

    p = sub.add_parser("export", help="write the trials to CSV and/or JSON")
    p.add_argument("experiment", nargs="?")
    p.add_argument("--csv", metavar="FILE")
    p.add_argument("--json", metavar="FILE")
    p.add_argument(
        "--mlflow",
        metavar="URI",
        help="an MLflow tracking URI (sqlite:///mlflow.db, http://...): one run per finished trial",
    )
    p.add_argument("--mlflow-experiment", metavar="NAME", help="default: the experiment's name")
    p.add_argument(
        "--tensorboard", metavar="DIR", help="TensorBoard run folders, one per finished trial"
    )
    _storage_arg(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("report", help="write a self-contained HTML report (read-only)")
    p.add_argument("experiment", nargs="?")
    p.add_argument("--out", required=True, metavar="FILE.html")
    p.add_argument("--metric", help="metric to analyse (default: the first optimized one)")
    p.add_argument(
        "--gpus-per-trial",
        type=float,
        default=None,
        help="GPUs each trial used: adds GPU-hours (default: none, as on a CPU)",
    )
    _storage_arg(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="best-so-far of experiments: median and IQR over runs")
    p.add_argument(
        "experiments", nargs="+", metavar="EXP", help="a name or a glob of repeated runs, per group"
    )
    p.add_argument("--out", required=True, metavar="FILE.png|.svg|.html")
    p.add_argument("--metric", help="metric to compare (default: the first optimized one)")
    p.add_argument(
        "--axis", default="trials", choices=["trials", "cost", "epochs", "hours", "gpu-hours"]
    )
    p.add_argument(
        "--gpus-per-trial",
        type=float,
        default=None,
        help="GPUs each trial used: adds GPU-hours (default: none, as on a CPU)",
    )
    _storage_arg(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("launch", help="run a sweep file: parallel trials on every GPU (or CPU)")
    p.add_argument("sweep", metavar="SWEEP.yaml")
    p.add_argument("--dry-run", action="store_true", help="print the sweep and first commands")
    p.add_argument("--commands", type=int, default=3, help="commands shown by --dry-run")
    p.add_argument("--json", action="store_true", help="--dry-run prints JSON")
    p.add_argument("--workers", type=int, default=None, help="parallel trials (default: sweep)")
    p.add_argument(
        "--trials",
        type=int,
        default=None,
        help="trial budget N (default: the sweep's; none there: until stopped with Ctrl-C)",
    )
    p.add_argument("--runs-dir", default="runs", help="trial logs go to RUNS_DIR/<experiment>/<id>")
    p.add_argument(
        "--retry-failed", action="store_true", help="run the failed trials again (after a fix)"
    )
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default=None,
        help="where trials run: processes of this machine, or a Ray cluster (default: sweep)",
    )
    p.add_argument(
        "--address", default=None, help="--executor ray: the cluster (auto, ray://host:10001)"
    )
    _storage_arg(p)
    p.set_defaults(func=cmd_launch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Command | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    from tunehooks.storage import StorageError

    start = time.time()
    try:
        code = func(args)
        sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
        return code
    except (CLIError, StorageError, ValueError, FileNotFoundError) as e:
        print(f"tunehooks {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"tunehooks {args.command}: interrupted after {time.time() - start:.0f}s",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        # `tunehooks status | head`: the reader left; say nothing more and do not
        # let Python complain about flushing stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
