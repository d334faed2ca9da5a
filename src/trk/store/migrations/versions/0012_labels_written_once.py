"""Labels written once: pending labels (no prediction yet), corrections kept as evidence.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prediction_labels") as batch:
        batch.add_column(sa.Column("corrections", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "pending_labels",
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("label", sa.String(256)),
        sa.Column("value", sa.Float(precision=53)),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("model", "request_id", "row"),
    )
    op.create_index("ix_pending_labels_model_time", "pending_labels", ["model", "timestamp_ms"])
    op.create_table(
        "label_corrections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("old_label", sa.String(256)),
        sa.Column("old_value", sa.Float(precision=53)),
        sa.Column("old_timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("label", sa.String(256)),
        sa.Column("value", sa.Float(precision=53)),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
    )
    op.create_index("ix_label_corrections_request", "label_corrections", ["model", "request_id"])


def downgrade() -> None:
    op.drop_table("label_corrections")
    op.drop_table("pending_labels")
    with op.batch_alter_table("prediction_labels") as batch:
        batch.drop_column("corrections")
