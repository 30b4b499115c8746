"""Alembic's environment for tunehooks: run by :func:`tunehooks.storage.migrations.upgrade`
on the connection it passes (never from a configuration file)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
