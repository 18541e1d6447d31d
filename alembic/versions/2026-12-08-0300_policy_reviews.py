"""Reviews of a region's schools against its rules (``policy_review``) and the rows a frozen
review keeps (``policy_review_result``); an index of the records by school and activity that
the policy engine reads alone (``ix_participation_record_school_activity``).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "policy_review",
        sa.Column("id", ID, nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("bureau_id", ID, nullable=True),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.Column("semester", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("schools", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("frozen_by", sa.String(length=40), nullable=True),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "semester IN ('autumn', 'spring')", name=op.f("ck_policy_review_semester_known")
        ),
        sa.ForeignKeyConstraint(
            ["bureau_id"], ["bureau.id"], name=op.f("fk_policy_review_bureau_id_bureau")
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_policy_review_region_code_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_review")),
        sa.UniqueConstraint("region_code", "name", name=op.f("uq_policy_review_region_code_name")),
    )
    op.create_table(
        "policy_review_result",
        sa.Column("id", ID, nullable=False),
        sa.Column("review_id", ID, nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("period", sa.String(length=12), nullable=False),
        sa.Column("school_id", ID, nullable=True),
        sa.Column("school_name", sa.String(length=100), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("district_name", sa.String(length=50), nullable=False),
        sa.Column("area", sa.String(length=10), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("figure", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.Column("missing", sa.String(length=300), nullable=False),
        sa.Column("evidence_total", sa.Integer(), nullable=False),
        sa.Column("weeks_asked", sa.Integer(), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["policy_review.id"],
            name=op.f("fk_policy_review_result_review_id_policy_review"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_policy_review_result_school_id_school")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_review_result")),
    )
    with op.batch_alter_table("policy_review_result", schema=None) as batch_op:
        batch_op.create_index(
            "ix_policy_review_result_review_id_rule_id", ["review_id", "rule_id"], unique=False
        )
        batch_op.create_index("ix_policy_review_result_school_id", ["school_id"], unique=False)
    _create_record_index()


RECORD_INDEX = "ix_participation_record_school_activity"
RECORD_INDEX_COLUMNS = ["school_id", "activity_id", "status", "started_at", "student_id"]


def _create_record_index() -> None:
    """On PostgreSQL built CONCURRENTLY, outside the migration's transaction, so that
    check-ins (which write records) are not blocked while it builds on a large table."""
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(
                RECORD_INDEX,
                "participation_record",
                RECORD_INDEX_COLUMNS,
                unique=False,
                postgresql_concurrently=True,
                if_not_exists=True,
            )
        return
    with op.batch_alter_table("participation_record", schema=None) as batch_op:
        batch_op.create_index(RECORD_INDEX, RECORD_INDEX_COLUMNS, unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.drop_index(
                RECORD_INDEX,
                table_name="participation_record",
                postgresql_concurrently=True,
                if_exists=True,
            )
    else:
        with op.batch_alter_table("participation_record", schema=None) as batch_op:
            batch_op.drop_index(RECORD_INDEX)
    with op.batch_alter_table("policy_review_result", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_review_result_school_id")
        batch_op.drop_index("ix_policy_review_result_review_id_rule_id")
    op.drop_table("policy_review_result")
    op.drop_table("policy_review")
