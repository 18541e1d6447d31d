"""Venue directory profiles and review, resources, exception dates, directory editions,
activities, time slots, reservations and school–venue pairings.

Venues that exist before this revision stay out of the directory (`listed` false) until
their admin submits a profile and the bureau approves it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 11:19:21.707781
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    
    op.create_table('activity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place_name', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('geofence_radius_m', sa.Integer(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('admission', sa.String(length=20), nullable=False),
    sa.Column('stages', sa.String(length=60), nullable=False),
    sa.Column('credited_minutes', sa.Integer(), nullable=False),
    sa.Column('record_category', sa.String(length=20), nullable=False),
    sa.Column('dimension', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('status_reason', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(venue_id IS NULL) <> (school_id IS NULL)', name=op.f('ck_activity_one_organiser')),
    sa.CheckConstraint('capacity IS NULL OR capacity > 0', name=op.f('ck_activity_capacity_positive')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_activity_ends_after_start')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_activity_school_id_school')),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_activity_venue_id_venue')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity'))
    )
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_index('ix_activity_school_id', ['school_id'], unique=False)
        batch_op.create_index('ix_activity_status_starts_at', ['status', 'starts_at'], unique=False)
        batch_op.create_index('ix_activity_venue_id', ['venue_id'], unique=False)

    op.create_table('directory_edition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('bureau_id', sa.Integer(), nullable=False),
    sa.Column('published_by', sa.String(length=40), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('venue_count', sa.Integer(), nullable=False),
    sa.Column('entries', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['bureau_id'], ['bureau.id'], name=op.f('fk_directory_edition_bureau_id_bureau')),
    sa.ForeignKeyConstraint(['region_code'], ['region.code'], name=op.f('fk_directory_edition_region_code_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_edition')),
    sa.UniqueConstraint('region_code', 'year', name=op.f('uq_directory_edition_region_code_year'))
    )
    op.create_table('pairing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('proposed_by', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('school_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('venue_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_pairing_school_id_school')),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_pairing_venue_id_venue')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pairing'))
    )
    with op.batch_alter_table('pairing', schema=None) as batch_op:
        batch_op.create_index('ix_pairing_venue_id', ['venue_id'], unique=False)
        batch_op.create_index('uq_pairing_open_school_venue', ['school_id', 'venue_id'], unique=True, sqlite_where=sa.text("status IN ('proposed', 'active')"), postgresql_where=sa.text("status IN ('proposed', 'active')"))

    op.create_table('venue_hours_exception',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('periods', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_venue_hours_exception_venue_id_venue')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venue_hours_exception')),
    sa.UniqueConstraint('venue_id', 'on_date', name=op.f('uq_venue_hours_exception_venue_id_on_date'))
    )
    op.create_table('venue_resource',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('value_yuan', sa.Integer(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_venue_resource_capacity_positive')),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_venue_resource_venue_id_venue')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venue_resource')),
    sa.UniqueConstraint('venue_id', 'name', name=op.f('uq_venue_resource_venue_id_name'))
    )
    with op.batch_alter_table('venue_resource', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_venue_resource_venue_id'), ['venue_id'], unique=False)

    op.create_table('time_slot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=True),
    sa.Column('activity_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('taken', sa.Integer(), nullable=False),
    sa.Column('school_channel', sa.Boolean(), nullable=False),
    sa.Column('school_priority_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_time_slot_capacity_positive')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_time_slot_ends_after_start')),
    sa.CheckConstraint('taken >= 0 AND taken <= capacity', name=op.f('ck_time_slot_taken_within_capacity')),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_time_slot_activity_id_activity')),
    sa.ForeignKeyConstraint(['resource_id'], ['venue_resource.id'], name=op.f('fk_time_slot_resource_id_venue_resource')),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_time_slot_venue_id_venue')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_time_slot'))
    )
    with op.batch_alter_table('time_slot', schema=None) as batch_op:
        batch_op.create_index('ix_time_slot_venue_id_starts_at', ['venue_id', 'starts_at'], unique=False)

    op.create_table('reservation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('group_label', sa.String(length=60), nullable=False),
    sa.Column('students', sa.Integer(), nullable=False),
    sa.Column('escorts', sa.Integer(), nullable=False),
    sa.Column('party_size', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('made_by', sa.String(length=40), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.String(length=40), nullable=False),
    sa.Column('cancel_reason', sa.String(length=200), nullable=False),
    sa.CheckConstraint('party_size > 0', name=op.f('ck_reservation_party_size_positive')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_reservation_school_id_school')),
    sa.ForeignKeyConstraint(['slot_id'], ['time_slot.id'], name=op.f('fk_reservation_slot_id_time_slot')),
    sa.ForeignKeyConstraint(['student_id'], ['student.id'], name=op.f('fk_reservation_student_id_student')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservation')),
    sa.UniqueConstraint('made_by', 'idempotency_key', name=op.f('uq_reservation_made_by_idempotency_key'))
    )
    with op.batch_alter_table('reservation', schema=None) as batch_op:
        batch_op.create_index('ix_reservation_school_id', ['school_id'], unique=False)
        batch_op.create_index('ix_reservation_slot_id_status', ['slot_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_reservation_student_id', ['student_id'], unique=False)

    op.create_table('reservation_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reservation_id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['reservation_id'], ['reservation.id'], name=op.f('fk_reservation_member_reservation_id_reservation')),
    sa.ForeignKeyConstraint(['slot_id'], ['time_slot.id'], name=op.f('fk_reservation_member_slot_id_time_slot')),
    sa.ForeignKeyConstraint(['student_id'], ['student.id'], name=op.f('fk_reservation_member_student_id_student')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservation_member')),
    sa.UniqueConstraint('slot_id', 'student_id', name=op.f('uq_reservation_member_slot_id_student_id'))
    )
    with op.batch_alter_table('reservation_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reservation_member_reservation_id'), ['reservation_id'], unique=False)

    with op.batch_alter_table('venue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('services', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('facilities', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('is_free', sa.Boolean(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('fee_note', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('stages', sa.String(length=60), server_default='primary,junior,senior', nullable=False))
        batch_op.add_column(sa.Column('reservation_required', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('weekly_hours', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('open_weekdays', sa.String(length=7), server_default='0000000', nullable=False))
        batch_op.add_column(sa.Column('photos', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('listed', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('draft', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('review_status', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('review_note', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_venue_listed_region_code', ['listed', 'region_code'], unique=False)

    # The empty defaults only fill the rows that exist; new rows always name these values.
    with op.batch_alter_table("venue", schema=None) as batch_op:
        for name in ("services", "facilities"):
            batch_op.alter_column(name, existing_type=sa.Text(), server_default=None)
        for name in ("fee_note", "review_note"):
            batch_op.alter_column(name, existing_type=sa.String(length=200), server_default=None)
        for name in ("weekly_hours", "photos"):
            batch_op.alter_column(name, existing_type=sa.JSON(), server_default=None)


def downgrade() -> None:
    
    with op.batch_alter_table('venue', schema=None) as batch_op:
        batch_op.drop_index('ix_venue_listed_region_code')
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('submitted_at')
        batch_op.drop_column('review_note')
        batch_op.drop_column('review_status')
        batch_op.drop_column('draft')
        batch_op.drop_column('approved_at')
        batch_op.drop_column('listed')
        batch_op.drop_column('photos')
        batch_op.drop_column('open_weekdays')
        batch_op.drop_column('weekly_hours')
        batch_op.drop_column('reservation_required')
        batch_op.drop_column('stages')
        batch_op.drop_column('fee_note')
        batch_op.drop_column('is_free')
        batch_op.drop_column('facilities')
        batch_op.drop_column('services')

    with op.batch_alter_table('reservation_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reservation_member_reservation_id'))

    op.drop_table('reservation_member')
    with op.batch_alter_table('reservation', schema=None) as batch_op:
        batch_op.drop_index('ix_reservation_student_id')
        batch_op.drop_index('ix_reservation_slot_id_status')
        batch_op.drop_index('ix_reservation_school_id')

    op.drop_table('reservation')
    with op.batch_alter_table('time_slot', schema=None) as batch_op:
        batch_op.drop_index('ix_time_slot_venue_id_starts_at')

    op.drop_table('time_slot')
    with op.batch_alter_table('venue_resource', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_venue_resource_venue_id'))

    op.drop_table('venue_resource')
    op.drop_table('venue_hours_exception')
    with op.batch_alter_table('pairing', schema=None) as batch_op:
        batch_op.drop_index('uq_pairing_open_school_venue', sqlite_where=sa.text("status IN ('proposed', 'active')"), postgresql_where=sa.text("status IN ('proposed', 'active')"))
        batch_op.drop_index('ix_pairing_venue_id')

    op.drop_table('pairing')
    op.drop_table('directory_edition')
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_venue_id')
        batch_op.drop_index('ix_activity_status_starts_at')
        batch_op.drop_index('ix_activity_school_id')

    op.drop_table('activity')
    
