"""Bureaus' overrides of the policy packs (``policy_override``), append-only and versioned.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08 02:00:00


"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'policy_override',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('region_code', sa.String(length=6), nullable=False),
        sa.Column('rule_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('threshold_min', sa.Integer(), nullable=True),
        sa.Column('threshold_max', sa.Integer(), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=True),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('created_by', sa.String(length=40), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('version >= 1', name=op.f('ck_policy_override_version_positive')),
        sa.CheckConstraint(
            'threshold_min IS NULL OR threshold_min >= 0',
            name=op.f('ck_policy_override_threshold_min_not_negative'),
        ),
        sa.CheckConstraint(
            'threshold_max IS NULL OR threshold_max >= 0',
            name=op.f('ck_policy_override_threshold_max_not_negative'),
        ),
        sa.CheckConstraint(
            'threshold_min IS NULL OR threshold_max IS NULL OR threshold_max >= threshold_min',
            name=op.f('ck_policy_override_threshold_range'),
        ),
        sa.ForeignKeyConstraint(
            ['region_code'], ['region.code'], name=op.f('fk_policy_override_region_code_region')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_override')),
        sa.UniqueConstraint(
            'region_code',
            'rule_id',
            'version',
            name=op.f('uq_policy_override_region_code_rule_id_version'),
        ),
    )


def downgrade() -> None:
    op.drop_table('policy_override')
