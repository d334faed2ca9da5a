"""Logged models (MLflow 3's `logged-models` API): models, their tags and params.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_CASCADE: dict[str, Any] = {"ondelete": "CASCADE", "onupdate": "CASCADE"}


def _model_fk() -> sa.ForeignKey:
    return sa.ForeignKey("logged_models.model_id", **_CASCADE)


def upgrade() -> None:
    op.create_table(
        "logged_models",
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", **_CASCADE),
            nullable=False,
        ),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("artifact_location", sa.String(1000), nullable=False),
        sa.Column("creation_timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("last_updated_timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False),
        sa.Column("model_type", sa.String(500)),
        sa.Column("source_run_id", sa.String(32)),
        sa.Column("status_message", sa.String(1000)),
    )
    op.create_index("ix_logged_models_experiment", "logged_models", ["experiment_id"])
    for name, value_len in (("logged_model_tags", 5000), ("logged_model_params", 8000)):
        op.create_table(
            name,
            sa.Column("model_id", sa.String(64), _model_fk(), nullable=False),
            sa.Column("key", sa.String(250), nullable=False),
            sa.Column("value", sa.String(value_len)),
            sa.PrimaryKeyConstraint("model_id", "key"),
        )


def downgrade() -> None:
    for table in ("logged_model_params", "logged_model_tags", "logged_models"):
        op.drop_table(table)
