"""Check-in, second part: scan events get an index on (school_id, server_time) for a school's
review of its pupils' scans at venues; printed personal cards are kept (their nonce, not the
code) so that a lost card can be revoked.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
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
    op.create_table('personal_card',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=12), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by', sa.String(length=40), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=40), nullable=True),
    sa.Column('revoke_reason', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_personal_card_school_id_school')),
    sa.ForeignKeyConstraint(['student_id'], ['student.id'], name=op.f('fk_personal_card_student_id_student')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_personal_card')),
    sa.UniqueConstraint('nonce', name=op.f('uq_personal_card_nonce'))
    )
    with op.batch_alter_table('personal_card', schema=None) as batch_op:
        batch_op.create_index('ix_personal_card_student_id', ['student_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('personal_card', schema=None) as batch_op:
        batch_op.drop_index('ix_personal_card_student_id')
    op.drop_table('personal_card')
    with op.batch_alter_table('scan_event', schema=None) as batch_op:
        batch_op.drop_index('ix_scan_event_school_id_server_time')
