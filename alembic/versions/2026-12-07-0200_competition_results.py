"""Competition results (issue 17, points 3 and 4): a result per accepted entry of a round
(award code, advances, draft → noticed → published), the public notices (公示) of a round's
results and the objections raised by the entries' schools.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('competition_result_notice',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('round_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('working_days', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('result_count', sa.Integer(), nullable=False),
    sa.Column('opened_by', sa.String(length=40), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_competition_result_notice_window_in_order')),
    sa.ForeignKeyConstraint(['round_id'], ['competition_round.id'], name=op.f('fk_competition_result_notice_round_id_competition_round')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_result_notice'))
    )
    with op.batch_alter_table('competition_result_notice', schema=None) as batch_op:
        batch_op.create_index('ix_competition_result_notice_round_id', ['round_id'], unique=False)

    op.create_table('competition_result',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('round_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('round_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('school_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('award', sa.String(length=14), nullable=False),
    sa.Column('advances', sa.Boolean(), nullable=False),
    sa.Column('holds_region_quota', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('notice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('entered_by', sa.String(length=40), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'draft') OR (notice_id IS NOT NULL)", name=op.f('ck_competition_result_noticed_has_notice')),
    sa.CheckConstraint("award IN ('special', 'first', 'second', 'third', 'merit', 'finalist', 'participation')", name=op.f('ck_competition_result_award_known')),
    sa.CheckConstraint("status IN ('draft', 'noticed', 'published')", name=op.f('ck_competition_result_status_known')),
    sa.ForeignKeyConstraint(['entry_id'], ['competition_entry.id'], name=op.f('fk_competition_result_entry_id_competition_entry')),
    sa.ForeignKeyConstraint(['notice_id'], ['competition_result_notice.id'], name=op.f('fk_competition_result_notice_id_competition_result_notice')),
    sa.ForeignKeyConstraint(['round_entry_id'], ['competition_entry_round.id'], name=op.f('fk_competition_result_round_entry_id_competition_entry_round')),
    sa.ForeignKeyConstraint(['round_id'], ['competition_round.id'], name=op.f('fk_competition_result_round_id_competition_round')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_competition_result_school_id_school')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_result')),
    sa.UniqueConstraint('round_entry_id', name=op.f('uq_competition_result_round_entry_id')),
    sa.UniqueConstraint('round_id', 'entry_id', name=op.f('uq_competition_result_round_id_entry_id'))
    )
    with op.batch_alter_table('competition_result', schema=None) as batch_op:
        batch_op.create_index('ix_competition_result_notice_id', ['notice_id'], unique=False)
        batch_op.create_index('ix_competition_result_round_id_status', ['round_id', 'status'], unique=False)
        batch_op.create_index('ix_competition_result_school_id', ['school_id'], unique=False)

    op.create_table('competition_result_objection',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('result_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('notice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('school_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('raised_by', sa.String(length=40), nullable=False),
    sa.Column('raised_role', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('resolution', sa.String(length=200), nullable=False),
    sa.Column('resolved_by', sa.String(length=40), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['notice_id'], ['competition_result_notice.id'], name=op.f('fk_competition_result_objection_notice_id_competition_result_notice')),
    sa.ForeignKeyConstraint(['result_id'], ['competition_result.id'], name=op.f('fk_competition_result_objection_result_id_competition_result')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_competition_result_objection_school_id_school')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_result_objection'))
    )
    with op.batch_alter_table('competition_result_objection', schema=None) as batch_op:
        batch_op.create_index('ix_competition_result_objection_notice_id', ['notice_id'], unique=False)
        batch_op.create_index('ix_competition_result_objection_result_id_status', ['result_id', 'status'], unique=False)
        batch_op.create_index('uq_competition_result_objection_open', ['result_id', 'raised_by'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))


def downgrade() -> None:
    with op.batch_alter_table('competition_result_objection', schema=None) as batch_op:
        batch_op.drop_index('uq_competition_result_objection_open', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.drop_index('ix_competition_result_objection_result_id_status')
        batch_op.drop_index('ix_competition_result_objection_notice_id')

    op.drop_table('competition_result_objection')
    with op.batch_alter_table('competition_result', schema=None) as batch_op:
        batch_op.drop_index('ix_competition_result_school_id')
        batch_op.drop_index('ix_competition_result_round_id_status')
        batch_op.drop_index('ix_competition_result_notice_id')

    op.drop_table('competition_result')
    with op.batch_alter_table('competition_result_notice', schema=None) as batch_op:
        batch_op.drop_index('ix_competition_result_notice_round_id')

    op.drop_table('competition_result_notice')
