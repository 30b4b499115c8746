"""Schema migrations (alembic): ``tunehooks storage upgrade``.

Alembic revision ``"N"`` brings a database to schema version ``N`` (the
``schema_version`` row of ``tunehooks_meta``, which :mod:`tunehooks.storage.sql`
checks on every open). A database created by :class:`~tunehooks.storage.sql.SQLStorage`
has no ``alembic_version`` table: :func:`upgrade` first stamps it with the revision
of its schema version, then runs the migrations after it, in one transaction per
revision. The scripts live in ``scripts/`` (``env.py`` and ``versions/``).

Example:
    >>> import tempfile, os
    >>> from tunehooks.storage.sql import SQLStorage, SCHEMA_VERSION
    >>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "t.db")
    >>> SQLStorage(url).close()                                  # doctest: +SKIP
    >>> upgrade(url) == (SCHEMA_VERSION, SCHEMA_VERSION)         # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa

from tunehooks.storage.base import SchemaVersionError, StorageError

__all__ = ["schema_version", "upgrade"]

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts")


def _alembic() -> Any:
    from tunehooks._extras import require

    command = require("alembic.command", extra="migrate", what="tunehooks storage upgrade")
    config = require("alembic.config", extra="migrate", what="tunehooks storage upgrade")
    return command, config.Config


def _engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if not db or db == ":memory:" or not os.path.isfile(db):
            raise StorageError(f"storage {url!r}: no database file to upgrade")
    return sa.create_engine(parsed)


def schema_version(conn: sa.Connection) -> int:
    """The schema version a database was written with (its ``tunehooks_meta`` row)."""
    if not sa.inspect(conn).has_table("tunehooks_meta"):
        raise StorageError("not a tunehooks database: it has no tunehooks_meta table")
    row = conn.execute(
        sa.text("SELECT value FROM tunehooks_meta WHERE key = 'schema_version'")
    ).first()
    if row is None:
        raise StorageError("not a tunehooks database: tunehooks_meta has no schema_version")
    return int(row[0])


def upgrade(url: str, *, to: str = "head") -> tuple[int, int]:
    """Migrate the database at ``url`` to schema version ``to`` (default: the newest).

    Returns ``(version before, version after)``. Stop the sweeps writing to the
    database first: a migration changes tables they use.
    """
    from tunehooks.storage.sql import SCHEMA_VERSION

    command, Config = _alembic()
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            try:
                before = schema_version(conn)
            except sa.exc.DatabaseError as e:
                raise StorageError(f"storage {url}: cannot read the database ({e.orig})") from None
            conn.rollback()
            if before > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"storage {url}: schema version {before} was written by a newer tunehooks "
                    f"(this one knows versions up to {SCHEMA_VERSION}); upgrade tunehooks"
                )
            cfg = Config()
            cfg.set_main_option("script_location", SCRIPTS)
            cfg.attributes["connection"] = conn
            if not sa.inspect(conn).has_table("alembic_version"):
                command.stamp(cfg, str(before))
                conn.commit()
            command.upgrade(cfg, to)
            conn.commit()
            after = schema_version(conn)
            conn.rollback()
    finally:
        engine.dispose()
    return before, after
