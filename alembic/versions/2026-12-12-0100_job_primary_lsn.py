"""The primary's WAL position when a job was queued (``job.primary_lsn``, PostgreSQL only;
NULL on SQLite): an export read on the read replica waits until the replica has replayed it.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-12 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
        batch_op.add_column(sa.Column("primary_lsn", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
        batch_op.drop_column("primary_lsn")
