"""Schema version 2: an index on ``reports.created_at``.

What changed in a database since a moment (the dashboard's polls, ``MAX(created_at)``)
is then answered from the index, whatever the number of reports.

Revision ID: 2
Revises: 1
"""

from __future__ import annotations

from alembic import op

revision = "2"
down_revision = "1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reports_created_at", "reports", ["created_at"])
    op.execute("UPDATE tunehooks_meta SET value = '2' WHERE key = 'schema_version'")


def downgrade() -> None:
    op.drop_index("ix_reports_created_at", table_name="reports")
    op.execute("UPDATE tunehooks_meta SET value = '1' WHERE key = 'schema_version'")
