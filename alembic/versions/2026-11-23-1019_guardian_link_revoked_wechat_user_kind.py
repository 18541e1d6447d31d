"""Guardian links are revoked, not deleted; a WeChat user is a student or a guardian

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:19:34.676181
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_consent_record_guardian_link_id_guardian_link"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_consent_record_guardian_link_id_guardian_link"),
            "guardian_link",
            ["guardian_link_id"],
            ["id"],
        )

    with op.batch_alter_table("guardian_link", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("wechat_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=10), nullable=True))

    # Accounts bound before this revision get the role their bindings give them.
    op.execute(
        "UPDATE wechat_user SET kind = 'student' WHERE id IN "
        "(SELECT wechat_user_id FROM student WHERE wechat_user_id IS NOT NULL)"
    )
    op.execute(
        "UPDATE wechat_user SET kind = 'guardian' WHERE kind IS NULL AND id IN "
        "(SELECT guardian_id FROM guardian_link)"
    )


def downgrade() -> None:
    with op.batch_alter_table("wechat_user", schema=None) as batch_op:
        batch_op.drop_column("kind")

    with op.batch_alter_table("guardian_link", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")

    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_consent_record_guardian_link_id_guardian_link"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_consent_record_guardian_link_id_guardian_link"),
            "guardian_link",
            ["guardian_link_id"],
            ["id"],
            ondelete="SET NULL",
        )
