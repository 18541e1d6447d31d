"""Check-in: activity codes (static, rotating) and stored mini-program codes, visits
(check_in, one per student, activity and day), append-only scan events with a unique
(operator, nonce); activities gain their check-in window, rounding, daily cap, auto-close
credit, geofence accuracy and a counter of check-ins kept within the capacity.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 14:44:09.219382
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('activity_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('short_id', sa.String(length=8), nullable=False),
    sa.Column('step_seconds', sa.Integer(), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=40), nullable=False),
    sa.Column('revoke_reason', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_activity_code_activity_id_activity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_code')),
    sa.UniqueConstraint('short_id', name=op.f('uq_activity_code_short_id'))
    )
    with op.batch_alter_table('activity_code', schema=None) as batch_op:
        batch_op.create_index('ix_activity_code_activity_id', ['activity_id'], unique=False)

    op.create_table('check_in',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=True),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('exited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=12), nullable=True),
    sa.Column('minutes', sa.Integer(), nullable=True),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.Column('operator', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_check_in_activity_id_activity')),
    sa.ForeignKeyConstraint(['code_id'], ['activity_code.id'], name=op.f('fk_check_in_code_id_activity_code')),
    sa.ForeignKeyConstraint(['record_id'], ['participation_record.id'], name=op.f('fk_check_in_record_id_participation_record')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_check_in_school_id_school')),
    sa.ForeignKeyConstraint(['student_id'], ['student.id'], name=op.f('fk_check_in_student_id_student')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_in')),
    sa.UniqueConstraint('activity_id', 'student_id', 'day', name=op.f('uq_check_in_activity_id_student_id_day'))
    )
    with op.batch_alter_table('check_in', schema=None) as batch_op:
        batch_op.create_index('ix_check_in_activity_id_day', ['activity_id', 'day'], unique=False)
        batch_op.create_index('ix_check_in_open', ['exited_at', 'activity_id'], unique=False)
        batch_op.create_index('ix_check_in_student_id', ['student_id'], unique=False)

    op.create_table('wxacode_image',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=False),
    sa.Column('env_version', sa.String(length=10), nullable=False),
    sa.Column('page', sa.String(length=100), nullable=False),
    sa.Column('png', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['code_id'], ['activity_code.id'], name=op.f('fk_wxacode_image_code_id_activity_code')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wxacode_image')),
    sa.UniqueConstraint('code_id', 'env_version', name=op.f('uq_wxacode_image_code_id_env_version'))
    )
    op.create_table('scan_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=True),
    sa.Column('code_id', sa.Integer(), nullable=True),
    sa.Column('student_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('check_in_id', sa.Integer(), nullable=True),
    sa.Column('direction', sa.String(length=5), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('operator', sa.String(length=40), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=True),
    sa.Column('fingerprint', sa.String(length=32), nullable=False),
    sa.Column('server_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('scan_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('forced', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('distance_m', sa.Integer(), nullable=True),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_scan_event_activity_id_activity')),
    sa.ForeignKeyConstraint(['check_in_id'], ['check_in.id'], name=op.f('fk_scan_event_check_in_id_check_in')),
    sa.ForeignKeyConstraint(['code_id'], ['activity_code.id'], name=op.f('fk_scan_event_code_id_activity_code')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_scan_event_school_id_school')),
    sa.ForeignKeyConstraint(['student_id'], ['student.id'], name=op.f('fk_scan_event_student_id_student')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_event')),
    sa.UniqueConstraint('operator', 'nonce', name=op.f('uq_scan_event_operator_nonce'))
    )
    with op.batch_alter_table('scan_event', schema=None) as batch_op:
        batch_op.create_index('ix_scan_event_activity_id_result', ['activity_id', 'result'], unique=False)
        batch_op.create_index('ix_scan_event_student_id', ['student_id'], unique=False)

    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkin_opens_minutes', sa.Integer(), server_default='30', nullable=False))
        batch_op.add_column(sa.Column('checkin_closes_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('minutes_unit', sa.Integer(), server_default='30', nullable=False))
        batch_op.add_column(sa.Column('daily_cap_minutes', sa.Integer(), server_default='480', nullable=False))
        batch_op.add_column(sa.Column('auto_close_credit', sa.String(length=10), server_default='scheduled', nullable=False))
        batch_op.add_column(sa.Column('geofence_max_accuracy_m', sa.Integer(), server_default='100', nullable=False))
        batch_op.add_column(sa.Column('checked_in', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(
            'checked_in_within_capacity', 'capacity IS NULL OR checked_in <= capacity'
        )
        batch_op.create_check_constraint('minutes_unit_positive', 'minutes_unit > 0')



def downgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_constraint('minutes_unit_positive', type_='check')
        batch_op.drop_constraint('checked_in_within_capacity', type_='check')
        batch_op.drop_column('checked_in')
        batch_op.drop_column('geofence_max_accuracy_m')
        batch_op.drop_column('auto_close_credit')
        batch_op.drop_column('daily_cap_minutes')
        batch_op.drop_column('minutes_unit')
        batch_op.drop_column('checkin_closes_minutes')
        batch_op.drop_column('checkin_opens_minutes')

    with op.batch_alter_table('scan_event', schema=None) as batch_op:
        batch_op.drop_index('ix_scan_event_student_id')
        batch_op.drop_index('ix_scan_event_activity_id_result')

    op.drop_table('scan_event')
    op.drop_table('wxacode_image')
    with op.batch_alter_table('check_in', schema=None) as batch_op:
        batch_op.drop_index('ix_check_in_student_id')
        batch_op.drop_index('ix_check_in_open')
        batch_op.drop_index('ix_check_in_activity_id_day')

    op.drop_table('check_in')
    with op.batch_alter_table('activity_code', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_code_activity_id')

    op.drop_table('activity_code')
