"""The command line's experiment management: ``list``, ``delete``, ``rename``,
``storage upgrade`` and ``dashboard``. Parsing lives in :mod:`tunehooks.cli`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from tunehooks._cli_common import CLIError, require_database, shown_url, table

if TYPE_CHECKING:
    from tunehooks.storage import Storage

__all__ = ["cmd_dashboard", "cmd_delete", "cmd_list", "cmd_rename", "cmd_storage_upgrade"]


def cmd_list(args: argparse.Namespace) -> int:
    """Every experiment of the storage: method, trials per state and the best value."""
    from tunehooks._format import format_number
    from tunehooks.analysis._data import ReadOnlyStorage, load_from
    from tunehooks.trial import TrialState

    store = ReadOnlyStorage(require_database(args.storage))
    names = store.list_experiments()
    if not names:
        print(f"no experiments in {shown_url(store.url)}")
        return 0
    rows = []
    for name in names:
        exp = load_from(store, name)
        history = exp.get_trials(with_reports=False)
        counts = dict.fromkeys(TrialState, 0)
        for t in history:
            counts[t.state] += 1
        if len(exp.objectives) > 1:
            best = f"pareto front of {len(exp.pareto_front())}"
        else:
            b = exp.best
            m = exp.objectives[0].name
            best = "-" if b is None else f"{m}={format_number(b.values[m])} (trial {b.number})"
        rows.append(
            [
                name,
                exp.method.value,
                str(len(history)),
                *(str(counts[s]) for s in TrialState),
                best,
            ]
        )
    header = ["name", "method", "trials", *(s.value.lower() for s in TrialState), "best"]
    print(table(rows, header))
    return 0


def _writable(storage: str | None) -> Storage:
    from tunehooks.storage import open_storage

    return open_storage(require_database(storage))


def _running(store: Storage, name: str) -> int:
    from tunehooks.trial import TrialState

    exp_id, _ = store.get_experiment(name)
    return store.count_trials(exp_id).get(TrialState.RUNNING, 0)


def _refuse_if_running(store: Storage, name: str, force: bool, what: str) -> None:
    n = _running(store, name)
    if n and not force:
        raise CLIError(
            f"experiment {name!r} has {n} RUNNING trials; stop its sweep first, or pass "
            f"--force to {what} it anyway (trials stuck RUNNING after a crash)"
        )


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete an experiment with its trials and reports, after asking (or ``--yes``)."""
    store = _writable(args.storage)
    exp_id, _ = store.get_experiment(args.name)
    n = sum(store.count_trials(exp_id).values())
    _refuse_if_running(store, args.name, args.force, "delete")
    if not args.yes:
        prompt = (
            f"delete experiment {args.name!r} and its {n} trials from "
            f"{shown_url(store.url)}? [y/N] "
        )
        print(prompt, end="", flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            print("nothing deleted")
            return 1
    store.delete_experiment(args.name)
    print(f"deleted experiment {args.name!r} ({n} trials)")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    """Rename an experiment; its trials follow."""
    if not args.new.strip():
        raise CLIError("rename: the new name is empty; give a name")
    store = _writable(args.storage)
    _refuse_if_running(store, args.old, args.force, "rename")
    store.rename_experiment(args.old, args.new)
    print(f"renamed experiment {args.old!r} to {args.new!r}")
    return 0


def cmd_storage_upgrade(args: argparse.Namespace) -> int:
    """Migrate the database to the schema this tunehooks reads (alembic)."""
    from tunehooks.storage.migrations import upgrade

    url = require_database(args.storage)
    try:
        before, after = upgrade(url)
    except ModuleNotFoundError as e:
        raise CLIError(str(e)) from None
    if before == after:
        print(f"{shown_url(url)}: schema version {after}, already up to date")
    else:
        print(f"{shown_url(url)}: upgraded the schema from version {before} to {after}")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve the live dashboard until interrupted."""
    try:
        from tunehooks.dashboard import serve
    except ModuleNotFoundError as e:
        raise CLIError(str(e)) from None
    url = require_database(args.storage)
    try:
        serve(url, host=args.host, port=args.port, interval=args.interval, runs_dir=args.runs_dir)
    except ModuleNotFoundError as e:
        raise CLIError(str(e)) from None
    except ValueError as e:
        raise CLIError(f"dashboard: {e}") from None
    except OSError as e:
        raise CLIError(f"dashboard: cannot listen on {args.host}:{args.port} ({e})") from None
    return 0
