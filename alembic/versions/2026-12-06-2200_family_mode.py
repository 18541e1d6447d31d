"""Family mode: who confirmed for the pupil and who wrote the reflection, on each record;
a school's switch for teacher attestation (off for every existing school).

Records confirmed before this revision were confirmed by the pupil, and their reflections
written by the pupil: the only path there was.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('participation_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('student_confirmed_as', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('student_confirmed_by', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('reflection_by', sa.String(length=10), nullable=True))
    op.execute(
        "UPDATE participation_record SET student_confirmed_as = 'student'"
        " WHERE student_confirmed_at IS NOT NULL"
    )
    op.execute("UPDATE participation_record SET reflection_by = 'student' WHERE reflection <> ''")
    with op.batch_alter_table('school', schema=None) as batch_op:
        batch_op.add_column(sa.Column('teacher_attestation', sa.Boolean(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('school', schema=None) as batch_op:
        batch_op.drop_column('teacher_attestation')
    with op.batch_alter_table('participation_record', schema=None) as batch_op:
        batch_op.drop_column('reflection_by')
        batch_op.drop_column('student_confirmed_by')
        batch_op.drop_column('student_confirmed_as')
