"""Progressive rollouts: one row per model (its plan and where it stands) and its transitions.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("model", sa.String(256), primary_key=True),
        sa.Column("champion_version", sa.String(128), nullable=False),
        sa.Column("challenger_version", sa.String(128), nullable=False),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("weight", sa.Float(precision=53), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(32)),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("step_started_ms", sa.BigInteger, nullable=False),
        sa.Column("lease_owner", sa.String(128)),
        sa.Column("lease_expires_ms", sa.BigInteger),
    )
    op.create_table(
        "rollout_transitions",
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(32), nullable=False),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("weight", sa.Float(precision=53), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("guards", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("model", "seq"),
    )


def downgrade() -> None:
    op.drop_table("rollout_transitions")
    op.drop_table("rollouts")
