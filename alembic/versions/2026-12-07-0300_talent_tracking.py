"""创新后备人才 tracking (``talent_tracking``): who is tracked, why, since when, until when.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "ended_at IS NULL"


def upgrade() -> None:
    op.create_table(
        'talent_tracking',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column(
            'student_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False
        ),
        sa.Column(
            'school_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False
        ),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('started_by', sa.String(length=40), nullable=False),
        sa.Column('started_by_role', sa.String(length=20), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ended_by', sa.String(length=40), nullable=True),
        sa.Column('end_reason', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ['student_id'], ['student.id'], name=op.f('fk_talent_tracking_student_id_student')
        ),
        sa.ForeignKeyConstraint(
            ['school_id'], ['school.id'], name=op.f('fk_talent_tracking_school_id_school')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_talent_tracking')),
    )
    op.create_index('ix_talent_tracking_school_id', 'talent_tracking', ['school_id'])
    op.create_index(
        'uq_talent_tracking_open_student',
        'talent_tracking',
        ['student_id'],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index(
        'uq_talent_tracking_open_student',
        table_name='talent_tracking',
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    op.drop_index('ix_talent_tracking_school_id', table_name='talent_tracking')
    op.drop_table('talent_tracking')
