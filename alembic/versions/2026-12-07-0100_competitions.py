"""Competitions (issue 17): the whitelist (lists and entries, with the national 2025–2028
list shipped as data), competitions managed by bureaus, editions (one a school year), rounds
(each with its organiser, window and quotas), divisions, entries with members, invitations
and advisors, each entry's way through the rounds, quota counters; and the school's switch
"whitelisted competitions only" (off for every existing school).

The organiser of a round is a school, a venue or a bureau, exactly one
(``scipass.org.organiser``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 01:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# 教育部《2025—2028学年面向中小学生的全国性竞赛活动名单》: the entries DOMAIN-NOTES §1.6 gives
# (the first natural-science ones, 9–12 being four olympiads); the rest of the 47 were not
# retrievable, and a bureau adds them.
NATIONAL_LIST = '教育部2025—2028学年面向中小学生的全国性竞赛活动名单'
NATIONAL_SOURCE = (
    '教育部《2025—2028学年面向中小学生的全国性竞赛活动名单》（2025年9月11日至17日公示，'
    '2025年秋发布；共47项，其中自然科学素养类22项）。本表收录可查到的自然科学素养类条目，'
    '见 http://yhtest.cn/e_html/2024/jingsai/index.shtml ；'
    'https://hbxyjs.net/7ccfad83628c3ba3/152696a0d418f67e.html'
)
ALL_STAGES = 'primary,junior,senior,vocational'
NATIONAL_ENTRIES = [
    (1, '全国青少年人工智能创新挑战赛', '中国少年儿童发展服务中心', ALL_STAGES),
    (2, '世界机器人大会青少年机器人设计与信息素养大赛', '中国电子学会', ALL_STAGES),
    (3, '全国青少年无人机大赛', '中国航空学会', ALL_STAGES),
    (4, '宋庆龄少年儿童发明奖', '中国宋庆龄基金会、中国发明协会', ALL_STAGES),
    (5, '全国中学生天文知识竞赛', '中国天文学会', 'junior,senior,vocational'),
    (6, '"地球小博士"全国地理科普知识大赛活动', '中国地理学会', 'senior'),
    (
        7,
        '全国中学生水科技发明比赛暨斯德哥尔摩青少年水奖中国区选拔赛',
        '生态环境部宣传教育中心、水利部宣传教育中心',
        'primary,junior,senior',
    ),
    (8, '全国中学生地球科学奥林匹克竞赛', '中国地震学会、中国地球物理学会', 'senior'),
    (9, '全国中学生数学奥林匹克竞赛', '中国数学会', 'senior'),
    (10, '全国中学生物理奥林匹克竞赛', '中国物理学会', 'senior'),
    (11, '全国中学生化学奥林匹克竞赛', '中国化学会', 'senior'),
    (12, '全国中学生生物学奥林匹克竞赛', '中国植物学会、中国动物学会', 'senior'),
]
SHIPPED_AT = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'competition_whitelist',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('source', sa.String(length=500), nullable=False),
        sa.Column('first_school_year', sa.Integer(), nullable=False),
        sa.Column('last_school_year', sa.Integer(), nullable=False),
        sa.Column('region_code', sa.String(length=6), nullable=True),
        sa.Column('bureau_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('last_school_year >= first_school_year', name=op.f('ck_competition_whitelist_years_in_order')),
        sa.ForeignKeyConstraint(['bureau_id'], ['bureau.id'], name=op.f('fk_competition_whitelist_bureau_id_bureau')),
        sa.ForeignKeyConstraint(['region_code'], ['region.code'], name=op.f('fk_competition_whitelist_region_code_region')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_whitelist')),
        sa.UniqueConstraint('name', name=op.f('uq_competition_whitelist_name')),
    )
    with op.batch_alter_table('competition_whitelist', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_competition_whitelist_bureau_id'), ['bureau_id'], unique=False)

    op.create_table(
        'competition_whitelist_entry',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('whitelist_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('number', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('organiser', sa.String(length=200), nullable=False),
        sa.Column('stages', sa.String(length=60), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['whitelist_id'], ['competition_whitelist.id'], name=op.f('fk_competition_whitelist_entry_whitelist_id_competition_whitelist')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_whitelist_entry')),
        sa.UniqueConstraint('whitelist_id', 'name', name=op.f('uq_competition_whitelist_entry_whitelist_id_name')),
    )
    op.create_table(
        'competition',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('bureau_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('region_code', sa.String(length=6), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('organiser_unit', sa.String(length=200), nullable=False),
        sa.Column('category', sa.String(length=20), nullable=False),
        sa.Column('level', sa.String(length=10), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('whitelist_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('created_by', sa.String(length=40), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['bureau_id'], ['bureau.id'], name=op.f('fk_competition_bureau_id_bureau')),
        sa.ForeignKeyConstraint(['region_code'], ['region.code'], name=op.f('fk_competition_region_code_region')),
        sa.ForeignKeyConstraint(['whitelist_entry_id'], ['competition_whitelist_entry.id'], name=op.f('fk_competition_whitelist_entry_id_competition_whitelist_entry')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_competition')),
        sa.UniqueConstraint('bureau_id', 'name', name=op.f('uq_competition_bureau_id_name')),
    )
    with op.batch_alter_table('competition', schema=None) as batch_op:
        batch_op.create_index('ix_competition_region_code', ['region_code'], unique=False)

    op.create_table(
        'competition_edition',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('competition_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('school_year', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=100), nullable=False),
        sa.Column('requires_title', sa.Boolean(), server_default='1', nullable=False),
        sa.Column('requires_abstract', sa.Boolean(), server_default='0', nullable=False),
        sa.Column('requires_attachment', sa.Boolean(), server_default='0', nullable=False),
        sa.Column('attachment_max_bytes', sa.Integer(), server_default='10485760', nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('attachment_max_bytes > 0', name=op.f('ck_competition_edition_attachment_max_positive')),
        sa.ForeignKeyConstraint(['competition_id'], ['competition.id'], name=op.f('fk_competition_edition_competition_id_competition')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_edition')),
        sa.UniqueConstraint('competition_id', 'school_year', name=op.f('uq_competition_edition_competition_id_school_year')),
    )
    op.create_table(
        'competition_division',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('edition_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('stages', sa.String(length=60), nullable=False),
        sa.Column('grade_min', sa.Integer(), nullable=True),
        sa.Column('grade_max', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('min_members', sa.Integer(), nullable=False),
        sa.Column('max_members', sa.Integer(), nullable=False),
        sa.Column('max_advisors', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('grade_min IS NULL OR grade_max IS NULL OR grade_max >= grade_min', name=op.f('ck_competition_division_grades_range')),
        sa.CheckConstraint('max_advisors >= 0', name=op.f('ck_competition_division_advisors_positive')),
        sa.CheckConstraint('min_members >= 1 AND max_members >= min_members', name=op.f('ck_competition_division_members_range')),
        sa.ForeignKeyConstraint(['edition_id'], ['competition_edition.id'], name=op.f('fk_competition_division_edition_id_competition_edition')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_division')),
        sa.UniqueConstraint('edition_id', 'name', name=op.f('uq_competition_division_edition_id_name')),
    )
    op.create_table(
        'competition_round',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('edition_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('level', sa.String(length=10), nullable=False),
        sa.Column('region_code', sa.String(length=6), nullable=False),
        sa.Column('school_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('venue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('bureau_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('registration_opens_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('registration_closes_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('school_quota', sa.Integer(), nullable=True),
        sa.Column('region_quota', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('(CASE WHEN school_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN venue_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN bureau_id IS NULL THEN 0 ELSE 1 END) = 1', name=op.f('ck_competition_round_one_organiser')),
        sa.CheckConstraint('region_quota IS NULL OR region_quota >= 0', name=op.f('ck_competition_round_region_quota_positive')),
        sa.CheckConstraint('registration_closes_at > registration_opens_at', name=op.f('ck_competition_round_window_in_order')),
        sa.CheckConstraint('school_quota IS NULL OR school_quota >= 0', name=op.f('ck_competition_round_school_quota_positive')),
        sa.ForeignKeyConstraint(['bureau_id'], ['bureau.id'], name=op.f('fk_competition_round_bureau_id_bureau')),
        sa.ForeignKeyConstraint(['edition_id'], ['competition_edition.id'], name=op.f('fk_competition_round_edition_id_competition_edition')),
        sa.ForeignKeyConstraint(['region_code'], ['region.code'], name=op.f('fk_competition_round_region_code_region')),
        sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_competition_round_school_id_school')),
        sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_competition_round_venue_id_venue')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_round')),
        sa.UniqueConstraint('edition_id', 'position', name=op.f('uq_competition_round_edition_id_position')),
    )
    with op.batch_alter_table('competition_round', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_competition_round_bureau_id'), ['bureau_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_competition_round_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_competition_round_venue_id'), ['venue_id'], unique=False)

    op.create_table(
        'competition_entry',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('number', sa.String(length=24), nullable=True),
        sa.Column('edition_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('division_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('round_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('school_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('title', sa.String(length=100), nullable=False),
        sa.Column('abstract', sa.Text(), nullable=False),
        sa.Column('attachment_sha256', sa.String(length=64), nullable=True),
        sa.Column('attachment_media_type', sa.String(length=40), nullable=True),
        sa.Column('attachment_size', sa.Integer(), nullable=True),
        sa.Column('attachment_name', sa.String(length=100), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('registered_by_kind', sa.String(length=10), nullable=False),
        sa.Column('created_by', sa.String(length=40), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['division_id'], ['competition_division.id'], name=op.f('fk_competition_entry_division_id_competition_division')),
        sa.ForeignKeyConstraint(['edition_id'], ['competition_edition.id'], name=op.f('fk_competition_entry_edition_id_competition_edition')),
        sa.ForeignKeyConstraint(['round_id'], ['competition_round.id'], name=op.f('fk_competition_entry_round_id_competition_round')),
        sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_competition_entry_school_id_school')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_entry')),
        sa.UniqueConstraint('number', name=op.f('uq_competition_entry_number')),
    )
    with op.batch_alter_table('competition_entry', schema=None) as batch_op:
        batch_op.create_index('ix_competition_entry_round_id', ['round_id'], unique=False)
        batch_op.create_index('ix_competition_entry_school_id_edition_id', ['school_id', 'edition_id'], unique=False)

    op.create_table(
        'competition_quota',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('round_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('scope', sa.String(length=10), nullable=False),
        sa.Column('scope_key', sa.String(length=20), nullable=False),
        sa.Column('used', sa.Integer(), server_default='0', nullable=False),
        sa.CheckConstraint('used >= 0', name=op.f('ck_competition_quota_used_positive')),
        sa.ForeignKeyConstraint(['round_id'], ['competition_round.id'], name=op.f('fk_competition_quota_round_id_competition_round')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_quota')),
        sa.UniqueConstraint('round_id', 'scope', 'scope_key', name=op.f('uq_competition_quota_round_id_scope_scope_key')),
    )
    op.create_table(
        'competition_advisor',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('added_by', sa.String(length=40), nullable=False),
        sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_competition_advisor_account_id_account')),
        sa.ForeignKeyConstraint(['entry_id'], ['competition_entry.id'], name=op.f('fk_competition_advisor_entry_id_competition_entry')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_advisor')),
        sa.UniqueConstraint('entry_id', 'account_id', name=op.f('uq_competition_advisor_entry_id_account_id')),
    )
    op.create_table(
        'competition_entry_member',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('division_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('student_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('role', sa.String(length=10), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('joined_by', sa.String(length=40), nullable=False),
        sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['division_id'], ['competition_division.id'], name=op.f('fk_competition_entry_member_division_id_competition_division')),
        sa.ForeignKeyConstraint(['entry_id'], ['competition_entry.id'], name=op.f('fk_competition_entry_member_entry_id_competition_entry')),
        sa.ForeignKeyConstraint(['student_id'], ['student.id'], name=op.f('fk_competition_entry_member_student_id_student')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_entry_member')),
    )
    with op.batch_alter_table('competition_entry_member', schema=None) as batch_op:
        batch_op.create_index('ix_competition_entry_member_entry_id', ['entry_id'], unique=False)
        batch_op.create_index('ix_competition_entry_member_student_id', ['student_id'], unique=False)
        batch_op.create_index('uq_competition_entry_member_live_division_student', ['division_id', 'student_id'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.create_table(
        'competition_entry_round',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('round_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('school_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('via', sa.String(length=12), nullable=False),
        sa.Column('holds_quota', sa.Boolean(), server_default='0', nullable=False),
        sa.Column('school_decided_by', sa.String(length=40), nullable=True),
        sa.Column('school_decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('school_reason', sa.String(length=200), nullable=False),
        sa.Column('organiser_decided_by', sa.String(length=40), nullable=True),
        sa.Column('organiser_decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('organiser_reason', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['entry_id'], ['competition_entry.id'], name=op.f('fk_competition_entry_round_entry_id_competition_entry')),
        sa.ForeignKeyConstraint(['round_id'], ['competition_round.id'], name=op.f('fk_competition_entry_round_round_id_competition_round')),
        sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_competition_entry_round_school_id_school')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_entry_round')),
        sa.UniqueConstraint('entry_id', 'round_id', name=op.f('uq_competition_entry_round_entry_id_round_id')),
    )
    with op.batch_alter_table('competition_entry_round', schema=None) as batch_op:
        batch_op.create_index('ix_competition_entry_round_round_id_status', ['round_id', 'status'], unique=False)

    op.create_table(
        'competition_invitation',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('code_sha256', sa.String(length=64), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('used_by_student_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('created_by', sa.String(length=40), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['entry_id'], ['competition_entry.id'], name=op.f('fk_competition_invitation_entry_id_competition_entry')),
        sa.ForeignKeyConstraint(['used_by_student_id'], ['student.id'], name=op.f('fk_competition_invitation_used_by_student_id_student')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_invitation')),
        sa.UniqueConstraint('code_sha256', name=op.f('uq_competition_invitation_code_sha256')),
    )
    with op.batch_alter_table('competition_invitation', schema=None) as batch_op:
        batch_op.create_index('ix_competition_invitation_entry_id', ['entry_id'], unique=False)
    whitelist = sa.table(
        'competition_whitelist',
        sa.column('id', sa.Integer()),
        sa.column('name', sa.String()),
        sa.column('source', sa.String()),
        sa.column('first_school_year', sa.Integer()),
        sa.column('last_school_year', sa.Integer()),
        sa.column('created_at', sa.DateTime(timezone=True)),
    )
    entry = sa.table(
        'competition_whitelist_entry',
        sa.column('whitelist_id', sa.Integer()),
        sa.column('number', sa.Integer()),
        sa.column('name', sa.String()),
        sa.column('organiser', sa.String()),
        sa.column('stages', sa.String()),
        sa.column('note', sa.String()),
        sa.column('created_at', sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        whitelist,
        [
            {
                'id': 1,
                'name': NATIONAL_LIST,
                'source': NATIONAL_SOURCE,
                'first_school_year': 2025,
                'last_school_year': 2027,
                'created_at': SHIPPED_AT,
            }
        ],
    )
    op.bulk_insert(
        entry,
        [
            {
                'whitelist_id': 1,
                'number': number,
                'name': name,
                'organiser': organiser,
                'stages': stages,
                'note': '',
                'created_at': SHIPPED_AT,
            }
            for number, name, organiser, stages in NATIONAL_ENTRIES
        ],
    )
    if op.get_bind().dialect.name == 'postgresql':  # the next id after the shipped list
        op.execute(
            "SELECT setval(pg_get_serial_sequence('competition_whitelist', 'id'), 1)"
        )
    with op.batch_alter_table('school', schema=None) as batch_op:
        batch_op.add_column(sa.Column('whitelisted_competitions_only', sa.Boolean(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('school', schema=None) as batch_op:
        batch_op.drop_column('whitelisted_competitions_only')

    with op.batch_alter_table('competition_invitation', schema=None) as batch_op:
        batch_op.drop_index('ix_competition_invitation_entry_id')

    op.drop_table('competition_invitation')
    with op.batch_alter_table('competition_entry_round', schema=None) as batch_op:
        batch_op.drop_index('ix_competition_entry_round_round_id_status')

    op.drop_table('competition_entry_round')
    with op.batch_alter_table('competition_entry_member', schema=None) as batch_op:
        batch_op.drop_index('uq_competition_entry_member_live_division_student', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
        batch_op.drop_index('ix_competition_entry_member_student_id')
        batch_op.drop_index('ix_competition_entry_member_entry_id')

    op.drop_table('competition_entry_member')
    op.drop_table('competition_advisor')
    op.drop_table('competition_quota')
    with op.batch_alter_table('competition_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_competition_entry_school_id_edition_id')
        batch_op.drop_index('ix_competition_entry_round_id')

    op.drop_table('competition_entry')
    with op.batch_alter_table('competition_round', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_competition_round_venue_id'))
        batch_op.drop_index(batch_op.f('ix_competition_round_school_id'))
        batch_op.drop_index(batch_op.f('ix_competition_round_bureau_id'))

    op.drop_table('competition_round')
    op.drop_table('competition_division')
    op.drop_table('competition_edition')
    with op.batch_alter_table('competition', schema=None) as batch_op:
        batch_op.drop_index('ix_competition_region_code')

    op.drop_table('competition')
    op.drop_table('competition_whitelist_entry')
    with op.batch_alter_table('competition_whitelist', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_competition_whitelist_bureau_id'))

    op.drop_table('competition_whitelist')
