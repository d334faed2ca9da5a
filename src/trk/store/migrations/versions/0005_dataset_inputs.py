"""Dataset inputs of runs, run <-> logged model edges (inputs and outputs with their step),
and metrics of logged models.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_CASCADE: dict[str, Any] = {"ondelete": "CASCADE", "onupdate": "CASCADE"}


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("dataset_uuid", sa.String(36), nullable=False, unique=True),
        sa.Column(
            "experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id", **_CASCADE)
        ),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(36), nullable=False),
        sa.Column("dataset_source_type", sa.String(36), nullable=False),
        sa.Column("dataset_source", sa.Text, nullable=False),
        sa.Column("dataset_schema", sa.Text),
        sa.Column("dataset_profile", sa.Text),
        sa.PrimaryKeyConstraint("experiment_id", "name", "digest"),
    )
    op.create_table(
        "inputs",
        sa.Column("input_uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source_id", sa.String(36), nullable=False),
        sa.Column("destination_type", sa.String(36), nullable=False),
        sa.Column("destination_id", sa.String(36), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("source_type", "source_id", "destination_type", "destination_id"),
    )
    op.create_index(
        "ix_inputs_destination", "inputs", ["destination_type", "destination_id", "source_type"]
    )
    op.create_table(
        "input_tags",
        sa.Column(
            "input_uuid",
            sa.String(36),
            sa.ForeignKey("inputs.input_uuid", **_CASCADE),
            nullable=False,
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("input_uuid", "name"),
    )
    op.create_table(
        "logged_model_metrics",
        sa.Column(
            "model_id",
            sa.String(64),
            sa.ForeignKey("logged_models.model_id", **_CASCADE),
            nullable=False,
        ),
        sa.Column("metric_name", sa.String(500), nullable=False),
        sa.Column("metric_timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("metric_step", sa.BigInteger, nullable=False),
        sa.Column("metric_value", sa.Float(precision=53)),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("dataset_name", sa.String(500)),
        sa.Column("dataset_digest", sa.String(36)),
        sa.PrimaryKeyConstraint(
            "model_id", "metric_name", "metric_timestamp_ms", "metric_step", "run_id"
        ),
    )
    op.create_index(
        "ix_logged_model_metrics_dataset",
        "logged_model_metrics",
        ["dataset_name", "dataset_digest"],
    )


def downgrade() -> None:
    for table in ("logged_model_metrics", "input_tags", "inputs", "datasets"):
        op.drop_table(table)
