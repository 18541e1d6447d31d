"""Deletion requests (``deletion_request``): a guardian's, or a pupil's of 14 and over, request
to delete the pupil's data, carried out by the ``carry-out-deletions`` job; one open request
per pupil (``uq_deletion_request_open``).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-09 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN = "carried_out_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "deletion_request",
        sa.Column("id", ID, nullable=False),
        sa.Column("student_id", ID, nullable=False),
        sa.Column("school_id", ID, nullable=False),
        sa.Column("requested_by", sa.String(length=40), nullable=False),
        sa.Column("requested_by_role", sa.String(length=20), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("carried_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_deletion_request_school_id_school")
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["student.id"], name=op.f("fk_deletion_request_student_id_student")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deletion_request")),
    )
    with op.batch_alter_table("deletion_request") as batch_op:
        batch_op.create_index(
            "ix_deletion_request_school_id_requested_at", ["school_id", "requested_at"]
        )
        batch_op.create_index(
            "uq_deletion_request_open",
            ["student_id"],
            unique=True,
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )


def downgrade() -> None:
    with op.batch_alter_table("deletion_request") as batch_op:
        batch_op.drop_index("uq_deletion_request_open")
        batch_op.drop_index("ix_deletion_request_school_id_requested_at")
    op.drop_table("deletion_request")
