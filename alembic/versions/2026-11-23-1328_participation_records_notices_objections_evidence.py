"""Participation records (写实记录) with their history, evidence files, public notices (公示)
and objections; an activity may confirm its records automatically; a region sets the length
of its notices in working days.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 13:28:46.055112
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('record_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('working_days', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('record_count', sa.Integer(), nullable=False),
    sa.Column('opened_by', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_record_notice_school_id_school')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_notice'))
    )
    with op.batch_alter_table('record_notice', schema=None) as batch_op:
        batch_op.create_index('ix_record_notice_school_id_ends_at', ['school_id', 'ends_at'], unique=False)

    op.create_table('participation_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('source_ref', sa.String(length=64), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=True),
    sa.Column('organiser_venue_id', sa.Integer(), nullable=True),
    sa.Column('organiser_school_id', sa.Integer(), nullable=True),
    sa.Column('organiser_name', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('dimension', sa.String(length=20), nullable=False),
    sa.Column('place', sa.String(length=100), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('school_year', sa.Integer(), nullable=False),
    sa.Column('semester', sa.String(length=8), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=100), nullable=False),
    sa.Column('reflection', sa.Text(), nullable=False),
    sa.Column('attester_name', sa.String(length=50), nullable=False),
    sa.Column('attester_unit', sa.String(length=100), nullable=False),
    sa.Column('attester_phone', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('status_reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('student_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.String(length=40), nullable=True),
    sa.Column('notice_id', sa.Integer(), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archive_seq', sa.Integer(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ended_at >= started_at', name=op.f('ck_participation_record_ends_after_start')),
    sa.CheckConstraint('minutes >= 0', name=op.f('ck_participation_record_minutes_not_negative')),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_participation_record_activity_id_activity')),
    sa.ForeignKeyConstraint(['notice_id'], ['record_notice.id'], name=op.f('fk_participation_record_notice_id_record_notice')),
    sa.ForeignKeyConstraint(['organiser_school_id'], ['school.id'], name=op.f('fk_participation_record_organiser_school_id_school')),
    sa.ForeignKeyConstraint(['organiser_venue_id'], ['venue.id'], name=op.f('fk_participation_record_organiser_venue_id_venue')),
    sa.ForeignKeyConstraint(['replaces_id'], ['participation_record.id'], name=op.f('fk_participation_record_replaces_id_participation_record')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_participation_record_school_id_school')),
    sa.ForeignKeyConstraint(['student_id'], ['student.id'], name=op.f('fk_participation_record_student_id_student')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participation_record')),
    sa.UniqueConstraint('student_id', 'archive_seq', name='uq_record_archive_seq'),
    sa.UniqueConstraint('student_id', 'source', 'source_ref', name='uq_record_source_key')
    )
    with op.batch_alter_table('participation_record', schema=None) as batch_op:
        batch_op.create_index('ix_participation_record_activity_id', ['activity_id'], unique=False)
        batch_op.create_index('ix_participation_record_notice_id', ['notice_id'], unique=False)
        batch_op.create_index('ix_participation_record_organiser_venue_id', ['organiser_venue_id', 'status'], unique=False)
        batch_op.create_index('ix_participation_record_school_id_status', ['school_id', 'status'], unique=False)
        batch_op.create_index('ix_participation_record_school_id_term', ['school_id', 'school_year', 'semester'], unique=False)

    op.create_table('record_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('actor', sa.String(length=40), nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('from_status', sa.String(length=12), nullable=True),
    sa.Column('to_status', sa.String(length=12), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['participation_record.id'], name=op.f('fk_record_event_record_id_participation_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_event'))
    )
    with op.batch_alter_table('record_event', schema=None) as batch_op:
        batch_op.create_index('ix_record_event_record_id', ['record_id', 'id'], unique=False)

    op.create_table('record_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('media_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=100), nullable=False),
    sa.Column('uploaded_by', sa.String(length=40), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['participation_record.id'], name=op.f('fk_record_evidence_record_id_participation_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_evidence')),
    sa.UniqueConstraint('record_id', 'sha256', name=op.f('uq_record_evidence_record_id_sha256'))
    )
    with op.batch_alter_table('record_evidence', schema=None) as batch_op:
        batch_op.create_index('ix_record_evidence_record_id', ['record_id'], unique=False)

    op.create_table('record_objection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('raised_by', sa.String(length=40), nullable=False),
    sa.Column('raised_role', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('resolution', sa.String(length=200), nullable=False),
    sa.Column('resolved_by', sa.String(length=40), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['notice_id'], ['record_notice.id'], name=op.f('fk_record_objection_notice_id_record_notice')),
    sa.ForeignKeyConstraint(['record_id'], ['participation_record.id'], name=op.f('fk_record_objection_record_id_participation_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_objection'))
    )
    with op.batch_alter_table('record_objection', schema=None) as batch_op:
        batch_op.create_index('ix_record_objection_notice_id', ['notice_id'], unique=False)
        batch_op.create_index('ix_record_objection_record_id_status', ['record_id', 'status'], unique=False)
        batch_op.create_index('uq_record_objection_open', ['record_id', 'raised_by'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auto_confirm_records', sa.Boolean(), server_default='0', nullable=False))

    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_working_days', sa.Integer(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.drop_column('notice_working_days')

    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_column('auto_confirm_records')

    with op.batch_alter_table('record_objection', schema=None) as batch_op:
        batch_op.drop_index('uq_record_objection_open', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.drop_index('ix_record_objection_record_id_status')
        batch_op.drop_index('ix_record_objection_notice_id')

    op.drop_table('record_objection')
    with op.batch_alter_table('record_evidence', schema=None) as batch_op:
        batch_op.drop_index('ix_record_evidence_record_id')

    op.drop_table('record_evidence')
    with op.batch_alter_table('record_event', schema=None) as batch_op:
        batch_op.drop_index('ix_record_event_record_id')

    op.drop_table('record_event')
    with op.batch_alter_table('participation_record', schema=None) as batch_op:
        batch_op.drop_index('ix_participation_record_school_id_term')
        batch_op.drop_index('ix_participation_record_school_id_status')
        batch_op.drop_index('ix_participation_record_organiser_venue_id')
        batch_op.drop_index('ix_participation_record_notice_id')
        batch_op.drop_index('ix_participation_record_activity_id')

    op.drop_table('participation_record')
    with op.batch_alter_table('record_notice', schema=None) as batch_op:
        batch_op.drop_index('ix_record_notice_school_id_ends_at')

    op.drop_table('record_notice')
