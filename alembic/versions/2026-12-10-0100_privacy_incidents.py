"""The incident log (``privacy_incident``) the platform admin keeps for the yearly audit of
minors' personal information: what happened, which data categories it touched, how many
children (under 14) and minors (under 18) it affected, measures, when reported and closed.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-10 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "privacy_incident",
        sa.Column("id", ID, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("affected_children", sa.Integer(), nullable=False),
        sa.Column("affected_minors", sa.Integer(), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("reported_to_authority_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("school_id", ID, nullable=True),
        sa.Column("region_code", sa.String(length=6), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "affected_children >= 0 AND affected_minors >= affected_children",
            name=op.f("ck_privacy_incident_affected_counts"),
        ),
        sa.CheckConstraint(
            "discovered_at >= occurred_at",
            name=op.f("ck_privacy_incident_discovered_after_occurred"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_privacy_incident_region_code_region")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_privacy_incident_school_id_school")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_incident")),
    )
    with op.batch_alter_table("privacy_incident") as batch_op:
        batch_op.create_index("ix_privacy_incident_occurred_at", ["occurred_at"])
        batch_op.create_index(
            "ix_privacy_incident_region_code_occurred_at", ["region_code", "occurred_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("privacy_incident") as batch_op:
        batch_op.drop_index("ix_privacy_incident_region_code_occurred_at")
        batch_op.drop_index("ix_privacy_incident_occurred_at")
    op.drop_table("privacy_incident")
