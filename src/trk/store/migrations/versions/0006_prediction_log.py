"""The shared prediction log of serving replicas and the labels joined to it.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_log",
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("variant", sa.String(128), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("predicted", sa.String(256)),
        sa.Column("value", sa.Float(precision=53)),
        sa.Column("probability", sa.Float(precision=53), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("model", "request_id", "row", "variant"),
    )
    op.create_index("ix_prediction_log_model_time", "prediction_log", ["model", "timestamp_ms"])
    op.create_table(
        "prediction_labels",
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("label", sa.String(256)),
        sa.Column("value", sa.Float(precision=53)),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("model", "request_id", "row"),
    )
    op.create_index("ix_prediction_labels_time", "prediction_labels", ["timestamp_ms"])


def downgrade() -> None:
    op.drop_table("prediction_labels")
    op.drop_table("prediction_log")
