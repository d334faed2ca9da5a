"""Registry webhooks: the webhooks, the events each subscribes to, recent deliveries.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_CASCADE: dict[str, Any] = {"ondelete": "CASCADE", "onupdate": "CASCADE"}


def _webhook_fk() -> sa.ForeignKey:
    return sa.ForeignKey("webhooks.webhook_id", **_CASCADE)


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("description", sa.String(1000)),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("secret", sa.String(1000)),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "webhook_events",
        sa.Column("webhook_id", sa.String(36), _webhook_fk(), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", "event"),
    )
    op.create_index("ix_webhook_events_event", "webhook_events", ["event"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", sa.String(36), primary_key=True),
        sa.Column("webhook_id", sa.String(36), _webhook_fk(), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(256)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("response_status", sa.Integer),
        sa.Column("last_error", sa.String(1000)),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_webhook_deliveries_webhook", "webhook_deliveries", ["webhook_id", "creation_time"]
    )
    op.create_index(
        "ix_webhook_deliveries_model", "webhook_deliveries", ["model_name", "creation_time"]
    )


def downgrade() -> None:
    for table in ("webhook_deliveries", "webhook_events", "webhooks"):
        op.drop_table(table)
