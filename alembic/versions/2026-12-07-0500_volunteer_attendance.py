"""Volunteer attendance, confirmed minutes and certificates (issue 18 points 4-7): a code
(``activity_code``) names an activity or a volunteer shift (exactly one: ``one_target``), a
scan event may name the shift it was for (``scan_event.shift_id``), and certificates
(``volunteer_certificate``, with the shifts each counted, ``volunteer_certificate_item``).
Attendance and confirmed minutes live on ``volunteer_signup`` (columns of 0017).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('volunteer_certificate',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('student_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('school_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('venue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('from_date', sa.Date(), nullable=False),
    sa.Column('to_date', sa.Date(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('times', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('person_in_charge', sa.String(length=40), nullable=False),
    sa.Column('handler', sa.String(length=40), nullable=False),
    sa.Column('contact', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('issued_by', sa.String(length=40), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.String(length=200), nullable=False),
    sa.CheckConstraint('minutes > 0', name=op.f('ck_volunteer_certificate_minutes_positive')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_volunteer_certificate_school_id_school')),
    sa.ForeignKeyConstraint(['student_id'], ['student.id'], name=op.f('fk_volunteer_certificate_student_id_student')),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_volunteer_certificate_venue_id_venue')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_certificate')),
    sa.UniqueConstraint('number', name=op.f('uq_volunteer_certificate_number'))
    )
    with op.batch_alter_table('volunteer_certificate', schema=None) as batch_op:
        batch_op.create_index('ix_volunteer_certificate_student_id', ['student_id'], unique=False)
        batch_op.create_index('ix_volunteer_certificate_venue_id', ['venue_id'], unique=False)

    op.create_table('volunteer_certificate_item',
    sa.Column('certificate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('signup_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('record_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['volunteer_certificate.id'], name=op.f('fk_volunteer_certificate_item_certificate_id_volunteer_certificate')),
    sa.ForeignKeyConstraint(['record_id'], ['participation_record.id'], name=op.f('fk_volunteer_certificate_item_record_id_participation_record')),
    sa.ForeignKeyConstraint(['signup_id'], ['volunteer_signup.id'], name=op.f('fk_volunteer_certificate_item_signup_id_volunteer_signup')),
    sa.PrimaryKeyConstraint('certificate_id', 'signup_id', name=op.f('pk_volunteer_certificate_item'))
    )
    with op.batch_alter_table('volunteer_certificate_item', schema=None) as batch_op:
        batch_op.create_index('ix_volunteer_certificate_item_record_id', ['record_id'], unique=False)

    with op.batch_alter_table('activity_code', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shift_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.alter_column('activity_id',
               existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
               nullable=True)
        batch_op.create_index('ix_activity_code_shift_id', ['shift_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_activity_code_shift_id_volunteer_shift'), 'volunteer_shift', ['shift_id'], ['id'])
        batch_op.create_check_constraint(batch_op.f('ck_activity_code_one_target'), '(activity_id IS NULL) <> (shift_id IS NULL)')

    with op.batch_alter_table('scan_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shift_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index('ix_scan_event_shift_id_result', ['shift_id', 'result'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_scan_event_shift_id_volunteer_shift'), 'volunteer_shift', ['shift_id'], ['id'])



def downgrade() -> None:
    # Shift scans and shift codes have no place in the older schema.
    op.execute('DELETE FROM scan_event WHERE shift_id IS NOT NULL')
    op.execute('UPDATE scan_event SET code_id = NULL WHERE code_id IN (SELECT id FROM activity_code WHERE shift_id IS NOT NULL)')
    op.execute('DELETE FROM activity_code WHERE shift_id IS NOT NULL')
    with op.batch_alter_table('scan_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_scan_event_shift_id_volunteer_shift'), type_='foreignkey')
        batch_op.drop_index('ix_scan_event_shift_id_result')
        batch_op.drop_column('shift_id')

    with op.batch_alter_table('activity_code', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_activity_code_one_target'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_activity_code_shift_id_volunteer_shift'), type_='foreignkey')
        batch_op.drop_index('ix_activity_code_shift_id')
        batch_op.alter_column('activity_id',
               existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
               nullable=False)
        batch_op.drop_column('shift_id')

    with op.batch_alter_table('volunteer_certificate_item', schema=None) as batch_op:
        batch_op.drop_index('ix_volunteer_certificate_item_record_id')

    op.drop_table('volunteer_certificate_item')
    with op.batch_alter_table('volunteer_certificate', schema=None) as batch_op:
        batch_op.drop_index('ix_volunteer_certificate_venue_id')
        batch_op.drop_index('ix_volunteer_certificate_student_id')

    op.drop_table('volunteer_certificate')
