"""Scan events: an index on (school_id, server_time) for a school's review of its pupils'
scans at venues, refused ones above all.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 17:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('scan_event', schema=None) as batch_op:
        batch_op.create_index(
            'ix_scan_event_school_id_server_time', ['school_id', 'server_time'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('scan_event', schema=None) as batch_op:
        batch_op.drop_index('ix_scan_event_school_id_server_time')
