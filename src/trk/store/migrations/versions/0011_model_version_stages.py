"""MLflow's (deprecated) model version stages, and version numbers never reused.

Each version gets `current_stage` ('None' for every existing one). A registered model gets
`last_version`, the highest number it ever gave out, so that a version created after the
newest was deleted takes a new number, as in MLflow (which keeps deleted versions' rows).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(
            sa.Column("current_stage", sa.String(20), nullable=False, server_default="None")
        )
    with op.batch_alter_table("registered_models") as batch:
        batch.add_column(sa.Column("last_version", sa.Integer))
    op.execute(
        "UPDATE registered_models SET last_version = (SELECT MAX(version) FROM model_versions "
        "WHERE model_versions.name = registered_models.name)"
    )


def downgrade() -> None:
    with op.batch_alter_table("registered_models") as batch:
        batch.drop_column("last_version")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("current_stage")
