"""When a run was deleted (MLflow's `runs.deleted_time`): `trk gc --older-than` removes only
runs deleted longer ago than that. Runs deleted before this migration start ageing from it.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch copy of `runs` on sqlite would cascade into its children.
    op.add_column("runs", sa.Column("deleted_time", sa.BigInteger))
    # Runs deleted before now start ageing from the upgrade.
    op.execute(
        sa.text("UPDATE runs SET deleted_time = :now WHERE lifecycle_stage = 'deleted'").bindparams(
            now=int(time.time() * 1000)
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("deleted_time")
