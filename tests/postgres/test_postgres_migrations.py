"""`tunehooks storage upgrade` on PostgreSQL: a version-1 database (the schema of tunehooks
0.1.0, built by migration 1, holding the rows of tests/unit/data/schema_v1.sql) upgraded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import tunehooks as th
from tunehooks.storage import SchemaVersionError
from tunehooks.storage.migrations import SCRIPTS
from tunehooks.storage.sql import SCHEMA_VERSION, SQLStorage

pytestmark = pytest.mark.postgres

DUMP = Path(__file__).parents[1] / "unit" / "data" / "schema_v1.sql"


def test_upgrade_a_version_1_postgres_database(pg_url: str) -> None:
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", SCRIPTS)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "1")  # the version-1 schema, as tunehooks 0.1.0 created it
        conn.execute(sa.text("DROP TABLE alembic_version"))  # 0.1.0 used no alembic
        rows = [
            line
            for line in DUMP.read_text().splitlines()
            if line.startswith("INSERT INTO") and "tunehooks_meta" not in line
        ]
        for table in ("experiments", "trials", "reports"):
            for line in rows:
                if line.startswith(f'INSERT INTO "{table}"'):
                    conn.exec_driver_sql(line)
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
        conn.commit()
    engine.dispose()
    with pytest.raises(SchemaVersionError, match="storage upgrade"):
        SQLStorage(pg_url)
    out = subprocess.run(
        [sys.executable, "-m", "tunehooks", "storage", "upgrade", "--storage", pg_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert f"from version 1 to {SCHEMA_VERSION}" in out.stdout
    exp = th.Experiment.load("digits-v1", storage=pg_url)
    assert [t.state.value for t in exp.get_trials()] == ["COMPLETED", "PRUNED", "COMPLETED"]
    assert exp.best is not None and exp.best.values == {"acc": 0.73}
    trial = exp.enqueue({"lr": 0.01, "opt": "adam"})
    assert trial.number == 3
    insp = sa.inspect(sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://")))
    assert "ix_reports_created_at" in {i["name"] for i in insp.get_indexes("reports")}
