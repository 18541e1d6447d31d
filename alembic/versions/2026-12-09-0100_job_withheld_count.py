"""How many rows an export of pupils' records to the 综评 platform left out for want of the
guardian's ``record_export`` consent (``job.withheld_count``; NULL for other jobs).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-09 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
        batch_op.add_column(sa.Column("withheld_count", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
        batch_op.drop_column("withheld_count")
