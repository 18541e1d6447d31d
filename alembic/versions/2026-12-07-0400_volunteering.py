"""Volunteering (issue 18): roles (``volunteer_role``, each with its organiser, a venue or a
school), their shifts (``volunteer_shift``, capacity taken by conditional updates), pupils'
sign-ups (``volunteer_signup``, one live sign-up per pupil and shift; with the attendance and
confirmed-minutes columns the attendance work fills), and the notification outbox
(``notification_outbox``) the WeChat reminders will read.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('volunteer_role',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('school_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('venue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('bureau_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('preset', sa.String(length=20), nullable=True),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('duties', sa.Text(), nullable=False),
    sa.Column('stages', sa.String(length=60), nullable=False),
    sa.Column('min_age', sa.Integer(), nullable=True),
    sa.Column('training', sa.String(length=500), nullable=False),
    sa.Column('prerequisite_role_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('max_daily_minutes', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(CASE WHEN school_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN venue_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN bureau_id IS NULL THEN 0 ELSE 1 END) = 1', name=op.f('ck_volunteer_role_one_organiser')),
    sa.CheckConstraint('max_daily_minutes > 0 AND max_daily_minutes <= 480', name=op.f('ck_volunteer_role_max_daily_minutes_within_8_hours')),
    sa.CheckConstraint('min_age IS NULL OR min_age > 0', name=op.f('ck_volunteer_role_min_age_positive')),
    sa.ForeignKeyConstraint(['bureau_id'], ['bureau.id'], name=op.f('fk_volunteer_role_bureau_id_bureau')),
    sa.ForeignKeyConstraint(['prerequisite_role_id'], ['volunteer_role.id'], name=op.f('fk_volunteer_role_prerequisite_role_id_volunteer_role')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_volunteer_role_school_id_school')),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_volunteer_role_venue_id_venue')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_role'))
    )
    with op.batch_alter_table('volunteer_role', schema=None) as batch_op:
        batch_op.create_index('ix_volunteer_role_school_id', ['school_id'], unique=False)
        batch_op.create_index('ix_volunteer_role_venue_id', ['venue_id'], unique=False)

    op.create_table('notification_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('student_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['student_id'], ['student.id'], name=op.f('fk_notification_outbox_student_id_student')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_outbox'))
    )
    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_notification_outbox_student_id', ['student_id'], unique=False)
        batch_op.create_index('ix_notification_outbox_unsent', ['id'], unique=False, sqlite_where=sa.text('sent_at IS NULL'), postgresql_where=sa.text('sent_at IS NULL'))

    op.create_table('volunteer_shift',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('school_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('venue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('bureau_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('series_key', sa.String(length=24), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=100), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('taken', sa.Integer(), nullable=False),
    sa.Column('signup_closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('walk_ins', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.String(length=40), nullable=True),
    sa.Column('cancel_reason', sa.String(length=200), nullable=False),
    sa.CheckConstraint('(CASE WHEN school_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN venue_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN bureau_id IS NULL THEN 0 ELSE 1 END) = 1', name=op.f('ck_volunteer_shift_one_organiser')),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_volunteer_shift_capacity_positive')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_volunteer_shift_ends_after_start')),
    sa.CheckConstraint('signup_closes_at <= starts_at', name=op.f('ck_volunteer_shift_closes_before_start')),
    sa.CheckConstraint('taken >= 0 AND taken <= capacity', name=op.f('ck_volunteer_shift_taken_within_capacity')),
    sa.ForeignKeyConstraint(['bureau_id'], ['bureau.id'], name=op.f('fk_volunteer_shift_bureau_id_bureau')),
    sa.ForeignKeyConstraint(['role_id'], ['volunteer_role.id'], name=op.f('fk_volunteer_shift_role_id_volunteer_role')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_volunteer_shift_school_id_school')),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_volunteer_shift_venue_id_venue')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_shift'))
    )
    with op.batch_alter_table('volunteer_shift', schema=None) as batch_op:
        batch_op.create_index('ix_volunteer_shift_role_id_starts_at', ['role_id', 'starts_at'], unique=False)
        batch_op.create_index('ix_volunteer_shift_school_id_starts_at', ['school_id', 'starts_at'], unique=False)
        batch_op.create_index('ix_volunteer_shift_series_key', ['series_key'], unique=False)
        batch_op.create_index('ix_volunteer_shift_venue_id_starts_at', ['venue_id', 'starts_at'], unique=False)

    op.create_table('volunteer_signup',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shift_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('student_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('school_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('group_label', sa.String(length=60), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('made_by', sa.String(length=40), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.String(length=40), nullable=True),
    sa.Column('cancel_reason', sa.String(length=200), nullable=False),
    sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_minutes', sa.Integer(), nullable=True),
    sa.Column('minutes_reason', sa.String(length=200), nullable=False),
    sa.Column('confirmed_by', sa.String(length=40), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('record_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.CheckConstraint('confirmed_minutes IS NULL OR confirmed_minutes >= 0', name=op.f('ck_volunteer_signup_minutes_not_negative')),
    sa.ForeignKeyConstraint(['record_id'], ['participation_record.id'], name=op.f('fk_volunteer_signup_record_id_participation_record')),
    sa.ForeignKeyConstraint(['role_id'], ['volunteer_role.id'], name=op.f('fk_volunteer_signup_role_id_volunteer_role')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_volunteer_signup_school_id_school')),
    sa.ForeignKeyConstraint(['shift_id'], ['volunteer_shift.id'], name=op.f('fk_volunteer_signup_shift_id_volunteer_shift')),
    sa.ForeignKeyConstraint(['student_id'], ['student.id'], name=op.f('fk_volunteer_signup_student_id_student')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_signup')),
    sa.UniqueConstraint('made_by', 'idempotency_key', name=op.f('uq_volunteer_signup_made_by_idempotency_key'))
    )
    with op.batch_alter_table('volunteer_signup', schema=None) as batch_op:
        batch_op.create_index('ix_volunteer_signup_school_id', ['school_id'], unique=False)
        batch_op.create_index('ix_volunteer_signup_shift_id_status', ['shift_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_volunteer_signup_student_id_status', ['student_id', 'status'], unique=False)
        batch_op.create_index('uq_volunteer_signup_live_shift_student', ['shift_id', 'student_id'], unique=True, sqlite_where=sa.text("status <> 'cancelled'"), postgresql_where=sa.text("status <> 'cancelled'"))



def downgrade() -> None:
    with op.batch_alter_table('volunteer_signup', schema=None) as batch_op:
        batch_op.drop_index('uq_volunteer_signup_live_shift_student', sqlite_where=sa.text("status <> 'cancelled'"), postgresql_where=sa.text("status <> 'cancelled'"))
        batch_op.drop_index('ix_volunteer_signup_student_id_status')
        batch_op.drop_index('ix_volunteer_signup_shift_id_status')
        batch_op.drop_index('ix_volunteer_signup_school_id')

    op.drop_table('volunteer_signup')
    with op.batch_alter_table('volunteer_shift', schema=None) as batch_op:
        batch_op.drop_index('ix_volunteer_shift_venue_id_starts_at')
        batch_op.drop_index('ix_volunteer_shift_series_key')
        batch_op.drop_index('ix_volunteer_shift_school_id_starts_at')
        batch_op.drop_index('ix_volunteer_shift_role_id_starts_at')

    op.drop_table('volunteer_shift')
    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_outbox_unsent', sqlite_where=sa.text('sent_at IS NULL'), postgresql_where=sa.text('sent_at IS NULL'))
        batch_op.drop_index('ix_notification_outbox_student_id')

    op.drop_table('notification_outbox')
    with op.batch_alter_table('volunteer_role', schema=None) as batch_op:
        batch_op.drop_index('ix_volunteer_role_venue_id')
        batch_op.drop_index('ix_volunteer_role_school_id')

    op.drop_table('volunteer_role')
