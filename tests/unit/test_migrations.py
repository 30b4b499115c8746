"""`tunehooks storage upgrade`: a database written by the previous schema (version 1, the
committed dump in data/schema_v1.sql, written by tunehooks 0.1.0) is migrated by alembic
and then read and written by this tunehooks with nothing lost."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

import tunehooks as th
from tunehooks.storage import SchemaVersionError
from tunehooks.storage.migrations import upgrade
from tunehooks.storage.sql import SCHEMA_VERSION, SQLStorage

DUMP = Path(__file__).parent / "data" / "schema_v1.sql"


def cli(*args: str):
    return subprocess.run(
        [sys.executable, "-m", "tunehooks", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def v1_db(tmp_path) -> str:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(DUMP.read_text())
    conn.close()
    return f"sqlite:///{path}"


def shape(url: str) -> dict[str, object]:
    """Tables, columns (name, type, nullable), indexes and unique constraints."""
    engine = sa.create_engine(url)
    insp = sa.inspect(engine)
    out: dict[str, object] = {}
    for table in sorted(insp.get_table_names()):
        if table == "alembic_version":
            continue
        out[table] = (
            [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)],
            sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(table)),
            sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
            sorted(
                (f["referred_table"], tuple(f["constrained_columns"]))
                for f in insp.get_foreign_keys(table)
            ),
        )
    engine.dispose()
    return out


def test_a_version_1_database_is_refused_with_the_fix_named(v1_db: str) -> None:
    with pytest.raises(SchemaVersionError, match="tunehooks storage upgrade"):
        SQLStorage(v1_db)
    out = cli("status", "--storage", v1_db)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "tunehooks storage upgrade" in out.stderr


def test_upgrade_migrates_version_1_and_keeps_every_trial(v1_db: str, tmp_path) -> None:
    out = cli("storage", "upgrade", "--storage", v1_db)
    assert out.returncode == 0, out.stderr
    assert f"upgraded the schema from version 1 to {SCHEMA_VERSION}" in out.stdout
    # the same tables, columns and indexes as a database this tunehooks creates
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    SQLStorage(fresh).close()
    assert shape(v1_db) == shape(fresh)
    exp = th.Experiment.load("digits-v1", storage=v1_db)
    trials = exp.get_trials()
    assert [(t.number, t.state.value) for t in trials] == [
        (0, "COMPLETED"),
        (1, "PRUNED"),
        (2, "COMPLETED"),
    ]
    assert [r.metrics["acc"] for r in trials[2].reports] == [0.71, 0.72, 0.73]
    assert exp.best is not None and exp.best.number == 2
    # and it is written to as any database: a grown budget runs one more trial
    exp = th.Experiment.create(
        "digits-v1",
        th.SearchSpace(
            {"lr": th.Float(1e-4, 1.0, log=True), "opt": th.Categorical(["sgd", "adam"])}
        ),
        metrics=[th.Metric("acc", goal="maximize")],
        budget=th.Budget(trials=4),
        storage=v1_db,
        method="random",
        seed=1,
        load_if_exists=True,
    )
    for t in exp.ask_loop():
        t.report(1, {"acc": 0.99})
        t.complete()
    assert exp.best is not None and exp.best.number == 3
    # once more: nothing to do
    out = cli("storage", "upgrade", "--storage", v1_db)
    assert out.returncode == 0 and "already up to date" in out.stdout


def test_upgrade_of_a_current_database_only_stamps_it(storage_url: str) -> None:
    SQLStorage(storage_url).close()
    assert upgrade(storage_url) == (SCHEMA_VERSION, SCHEMA_VERSION)
    engine = sa.create_engine(storage_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == str(
            SCHEMA_VERSION
        )
    engine.dispose()
    assert upgrade(storage_url) == (SCHEMA_VERSION, SCHEMA_VERSION)


def test_upgrade_errors_are_one_line(tmp_path) -> None:
    out = cli("storage", "upgrade", "--storage", f"sqlite:///{tmp_path / 'none.db'}")
    assert out.returncode == 2 and "no database at" in out.stderr
    assert not (tmp_path / "none.db").exists()
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE x (a INTEGER)").connection.commit()
    out = cli("storage", "upgrade", "--storage", f"sqlite:///{other}")
    assert out.returncode == 2, out.stderr
    assert "not a tunehooks database" in out.stderr and out.stderr.count("\n") == 1
    newer = tmp_path / "newer.db"
    SQLStorage(f"sqlite:///{newer}").close()
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE tunehooks_meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    out = cli("storage", "upgrade", "--storage", f"sqlite:///{newer}")
    assert out.returncode == 2 and "newer tunehooks" in out.stderr
