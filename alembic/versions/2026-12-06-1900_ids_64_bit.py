"""Every primary and foreign key becomes 64-bit on PostgreSQL (BIGINT, and its sequence).

A province of ten million pupils scanning twenty times a year passes 2³¹ scan events within a
decade; visits, records and their history follow. One width for every key keeps each foreign
key the same type as the key it points at, and costs four bytes a key. SQLite's INTEGER is
64-bit already: nothing changes there. Done while the tables are small (the rewrite locks
each table for as long as it takes to copy it).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table's key columns as they stood at revision 0008.
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    'audit_log': ('id', 'school_id'),
    'refresh_token': ('id',),
    'wechat_user': ('id',),
    'bureau': ('id',),
    'school': ('id',),
    'venue': ('id',),
    'account': ('id', 'school_id', 'venue_id', 'bureau_id'),
    'activity': ('id', 'venue_id', 'school_id'),
    'directory_edition': ('id', 'bureau_id'),
    'pairing': ('id', 'school_id', 'venue_id'),
    'record_notice': ('id', 'school_id'),
    'student': ('id', 'school_id', 'wechat_user_id'),
    'venue_hours_exception': ('id', 'venue_id'),
    'venue_resource': ('id', 'venue_id'),
    'activity_code': ('id', 'activity_id'),
    'guardian_link': ('id', 'guardian_id', 'student_id'),
    'participation_record': (
        'id', 'student_id', 'school_id', 'activity_id', 'organiser_venue_id',
        'organiser_school_id', 'notice_id', 'replaces_id',
    ),
    'personal_card': ('id', 'student_id', 'school_id'),
    'time_slot': ('id', 'venue_id', 'resource_id', 'activity_id'),
    'check_in': ('id', 'activity_id', 'student_id', 'school_id', 'code_id', 'record_id'),
    'consent_record': ('id', 'student_id', 'guardian_link_id'),
    'record_event': ('id', 'record_id'),
    'record_evidence': ('id', 'record_id'),
    'record_objection': ('id', 'record_id', 'notice_id'),
    'reservation': ('id', 'slot_id', 'student_id', 'school_id'),
    'wxacode_image': ('id', 'code_id'),
    'reservation_member': ('id', 'reservation_id', 'slot_id', 'student_id'),
    'scan_event': ('id', 'activity_id', 'code_id', 'student_id', 'school_id', 'check_in_id'),
}


def _retype(width: str) -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return  # SQLite: INTEGER holds 64 bits
    for table, columns in KEY_COLUMNS.items():
        changes = ', '.join(f'ALTER COLUMN {column} TYPE {width}' for column in columns)
        op.execute(f'ALTER TABLE {table} {changes}')
        # The sequence that numbers new rows has its own type (SERIAL made it integer).
        op.execute(f"ALTER SEQUENCE IF EXISTS {table}_id_seq AS {width}")


def upgrade() -> None:
    _retype('bigint')


def downgrade() -> None:
    _retype('integer')
