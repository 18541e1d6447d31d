"""foundation regions schools venues

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:38:33.956004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "region",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("parent_code", sa.String(length=6), nullable=True),
        sa.CheckConstraint("length(code) = 6", name=op.f("ck_region_code_six_digits")),
        sa.ForeignKeyConstraint(
            ["parent_code"], ["region.code"], name=op.f("fk_region_parent_code_region")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_region")),
    )
    with op.batch_alter_table("region", schema=None) as batch_op:
        batch_op.create_index("ix_region_parent_code", ["parent_code"], unique=False)

    op.create_table(
        "school",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("stages", sa.String(length=60), nullable=False),
        sa.Column("area", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_school_region_code_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school")),
        sa.UniqueConstraint("region_code", "name", name=op.f("uq_school_region_code_name")),
    )
    with op.batch_alter_table("school", schema=None) as batch_op:
        batch_op.create_index("ix_school_region_code", ["region_code"], unique=False)

    op.create_table(
        "venue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("phone", sa.String(length=30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_venue_region_code_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venue")),
        sa.UniqueConstraint("region_code", "name", name=op.f("uq_venue_region_code_name")),
    )
    with op.batch_alter_table("venue", schema=None) as batch_op:
        batch_op.create_index("ix_venue_region_code", ["region_code"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("venue", schema=None) as batch_op:
        batch_op.drop_index("ix_venue_region_code")

    op.drop_table("venue")
    with op.batch_alter_table("school", schema=None) as batch_op:
        batch_op.drop_index("ix_school_region_code")

    op.drop_table("school")
    with op.batch_alter_table("region", schema=None) as batch_op:
        batch_op.drop_index("ix_region_parent_code")

    op.drop_table("region")
