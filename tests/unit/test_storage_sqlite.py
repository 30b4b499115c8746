from __future__ import annotations

import sqlite3

import pytest

from tunehooks.storage import SchemaVersionError, StorageError
from tunehooks.storage.sql import SQLStorage
from tunehooks.testing.storage_conformance import StorageConformance


class TestSQLiteFile(StorageConformance):
    @pytest.fixture
    def storage_url(self, tmp_path) -> str:
        return f"sqlite:///{tmp_path / 'db.sqlite'}"


class TestSQLiteMemory(StorageConformance):
    @pytest.fixture
    def storage_url(self) -> str:
        return "sqlite://"


def test_sqlite_file_uses_wal(tmp_path) -> None:
    path = tmp_path / "db.sqlite"
    SQLStorage(f"sqlite:///{path}").close()
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_schema_version_mismatch_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "db.sqlite"
    SQLStorage(f"sqlite:///{path}").close()
    con = sqlite3.connect(path)
    con.execute("UPDATE tunehooks_meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(
        SchemaVersionError, match=r"schema version 99.*reads version 2.*storage upgrade"
    ):
        SQLStorage(f"sqlite:///{path}")


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database at all " * 100)
    with pytest.raises(StorageError, match="cannot open the database"):
        SQLStorage(f"sqlite:///{path}")
    assert path.read_text().startswith("not a database")


def test_missing_folder_and_bad_urls(tmp_path) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        SQLStorage(f"sqlite:///{tmp_path}/missing/db.sqlite")
    with pytest.raises(StorageError, match="unsupported database"):
        SQLStorage("mysql://u@h/db")
    with pytest.raises(StorageError, match="cannot parse"):
        SQLStorage("::::")


def test_a_read_only_storage_reads_everything_and_writes_nothing(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    writer = SQLStorage(url)
    exp_id = writer.create_experiment("e", {"k": 1})
    ro = SQLStorage(url, read_only=True)
    assert ro.read_only and ro.get_experiment("e") == (exp_id, {"k": 1})
    assert ro.get_trials(exp_id) == []
    with pytest.raises(StorageError, match="read-only"):
        ro.create_experiment("other", {})
    assert writer.list_experiments() == ["e"]  # nothing was written
    with pytest.raises(StorageError, match="in-memory"):
        SQLStorage("sqlite://", read_only=True)
    with pytest.raises(StorageError, match="no database file"):
        SQLStorage(f"sqlite:///{tmp_path / 'missing.sqlite'}", read_only=True)
    assert not (tmp_path / "missing.sqlite").exists()
