"""A registered version's pinned content (its files' manifest, one digest over it) and the
logged model it was registered from (MLflow 3's `model_id`).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("model_id", sa.String(64)))
        batch.add_column(sa.Column("digest", sa.String(80)))
        batch.add_column(sa.Column("manifest", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("manifest")
        batch.drop_column("digest")
        batch.drop_column("model_id")
