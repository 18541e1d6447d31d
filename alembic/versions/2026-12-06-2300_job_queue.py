"""The job queue (``job``) and the schedule of the periodic jobs (``job_schedule``), run by
``scipass worker``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'job',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('params', sa.Text(), nullable=False),
        sa.Column('owner_subject', sa.String(length=40), nullable=False),
        sa.Column('owner_role', sa.String(length=20), nullable=False),
        sa.Column('owner_org', sa.String(length=40), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('max_attempts', sa.Integer(), nullable=False),
        sa.Column('worker', sa.String(length=80), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('progress_done', sa.Integer(), nullable=False),
        sa.Column('progress_total', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('result_key', sa.String(length=100), nullable=True),
        sa.Column('result_name', sa.String(length=200), nullable=True),
        sa.Column('result_plain_name', sa.String(length=200), nullable=True),
        sa.Column('result_media_type', sa.String(length=100), nullable=True),
        sa.Column('result_size', sa.Integer(), nullable=True),
        sa.Column('row_count', sa.Integer(), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('error_code', sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_job')),
    )
    op.create_index('ix_job_status_id', 'job', ['status', 'id'], unique=False)
    op.create_index('ix_job_owner_subject', 'job', ['owner_subject', 'id'], unique=False)
    op.create_index('ix_job_expires_at', 'job', ['expires_at'], unique=False)
    op.create_table(
        'job_schedule',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_worker', sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_job_schedule')),
    )


def downgrade() -> None:
    op.drop_table('job_schedule')
    op.drop_index('ix_job_expires_at', table_name='job')
    op.drop_index('ix_job_owner_subject', table_name='job')
    op.drop_index('ix_job_status_id', table_name='job')
    op.drop_table('job')
