"""Metrics unique on (run, key, step, timestamp, value): a batch logged again after an unknown
outcome (the serving reporter's retried window) is stored once, as MLflow's metrics table
keys them. Existing exact duplicates are removed first (the oldest row stays).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = ["run_uuid", "key", "step", "timestamp", "value", "is_nan"]


def upgrade() -> None:
    op.execute(
        "DELETE FROM metrics WHERE id NOT IN (SELECT MIN(id) FROM metrics "
        "GROUP BY run_uuid, key, step, timestamp, value, is_nan)"
    )
    op.drop_index("ix_metrics_run_key_step", table_name="metrics")
    # Its prefix serves the history reads the dropped index served.
    op.create_index("ux_metrics_identity", "metrics", COLUMNS, unique=True)


def downgrade() -> None:
    op.drop_index("ux_metrics_identity", table_name="metrics")
    op.create_index("ix_metrics_run_key_step", "metrics", ["run_uuid", "key", "step"])
