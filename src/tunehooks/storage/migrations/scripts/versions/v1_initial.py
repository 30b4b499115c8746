"""Schema version 1: experiments, trials, reports and the meta table (tunehooks 0.1.0).

Revision ID: 1
Revises: -
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tunehooks_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(256), nullable=False, unique=True),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("fidelity", sa.Float, nullable=True),
        sa.Column("metric_values", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("worker_id", sa.String(256), nullable=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("retry_of", sa.Integer, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("heartbeat_at", sa.Float, nullable=True),
        sa.UniqueConstraint("experiment_id", "number", name="uq_trial_number"),
    )
    op.create_index("ix_trials_experiment_state", "trials", ["experiment_id", "state"])
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "trial_id",
            sa.Integer,
            sa.ForeignKey("trials.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("trial_id", "step", name="uq_report_step"),
    )
    op.execute("INSERT INTO tunehooks_meta (key, value) VALUES ('schema_version', '1')")


def downgrade() -> None:
    for name in ("reports", "trials", "experiments", "tunehooks_meta"):
        op.drop_table(name)
