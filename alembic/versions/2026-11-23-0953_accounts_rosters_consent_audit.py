"""accounts rosters consent audit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:53:08.959283
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=True),
        sa.Column("actor_role", sa.String(length=20), nullable=True),
        sa.Column("object_type", sa.String(length=30), nullable=True),
        sa.Column("object_id", sa.String(length=40), nullable=True),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("region_code", sa.String(length=6), nullable=True),
        sa.Column("client_ip", sa.String(length=45), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_action_at", ["action", "at"], unique=False)
        batch_op.create_index("ix_audit_log_school_id_at", ["school_id", "at"], unique=False)

    op.create_table(
        "rate_limit_counter",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_counter")),
    )
    op.create_table(
        "refresh_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_token_token_hash")),
    )
    with op.batch_alter_table("refresh_token", schema=None) as batch_op:
        batch_op.create_index("ix_refresh_token_family", ["family"], unique=False)
        batch_op.create_index(batch_op.f("ix_refresh_token_subject"), ["subject"], unique=False)

    op.create_table(
        "wechat_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("unionid", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_user")),
        sa.UniqueConstraint("openid", name=op.f("uq_wechat_user_openid")),
    )
    op.create_table(
        "bureau",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_bureau_region_code_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bureau")),
        sa.UniqueConstraint("region_code", "name", name=op.f("uq_bureau_region_code_name")),
    )
    with op.batch_alter_table("bureau", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bureau_region_code"), ["region_code"], unique=False)

    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=50), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("venue_id", sa.Integer(), nullable=True),
        sa.Column("bureau_id", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(CASE WHEN school_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN venue_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN bureau_id IS NULL THEN 0 ELSE 1 END) <= 1",
            name=op.f("ck_account_one_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["bureau_id"], ["bureau.id"], name=op.f("fk_account_bureau_id_bureau")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_account_school_id_school")
        ),
        sa.ForeignKeyConstraint(["venue_id"], ["venue.id"], name=op.f("fk_account_venue_id_venue")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("username", name=op.f("uq_account_username")),
    )
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_bureau_id"), ["bureau_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_school_id"), ["school_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_venue_id"), ["venue_id"], unique=False)

    op.create_table(
        "student",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("student_no", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("gender", sa.String(length=6), nullable=False),
        sa.Column("birth_month", sa.Date(), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("class_name", sa.String(length=20), nullable=False),
        sa.Column("wechat_user_id", sa.Integer(), nullable=True),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("binding_code", sa.String(length=12), nullable=True),
        sa.Column("guardian_code", sa.String(length=12), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_student_school_id_school")
        ),
        sa.ForeignKeyConstraint(
            ["wechat_user_id"],
            ["wechat_user.id"],
            name=op.f("fk_student_wechat_user_id_wechat_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_student")),
        sa.UniqueConstraint(
            "school_id", "student_no", name=op.f("uq_student_school_id_student_no")
        ),
        sa.UniqueConstraint("wechat_user_id", name=op.f("uq_student_wechat_user_id")),
    )
    with op.batch_alter_table("student", schema=None) as batch_op:
        batch_op.create_index(
            "ix_student_school_id_grade_class_name",
            ["school_id", "grade", "class_name"],
            unique=False,
        )

    op.create_table(
        "guardian_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guardian_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guardian_id"],
            ["wechat_user.id"],
            name=op.f("fk_guardian_link_guardian_id_wechat_user"),
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["student.id"], name=op.f("fk_guardian_link_student_id_student")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardian_link")),
        sa.UniqueConstraint(
            "guardian_id", "student_id", name=op.f("uq_guardian_link_guardian_id_student_id")
        ),
    )
    with op.batch_alter_table("guardian_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guardian_link_guardian_id"), ["guardian_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_guardian_link_student_id"), ["student_id"], unique=False
        )

    op.create_table(
        "consent_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("notice_version", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("guardian_link_id", sa.Integer(), nullable=True),
        sa.Column("guardian_name", sa.String(length=30), nullable=True),
        sa.Column("recorded_by", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guardian_link_id"],
            ["guardian_link.id"],
            name=op.f("fk_consent_record_guardian_link_id_guardian_link"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["student.id"], name=op.f("fk_consent_record_student_id_student")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_record")),
    )
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_record_student_id_purpose", ["student_id", "purpose", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_record_student_id_purpose")

    op.drop_table("consent_record")
    with op.batch_alter_table("guardian_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guardian_link_student_id"))
        batch_op.drop_index(batch_op.f("ix_guardian_link_guardian_id"))

    op.drop_table("guardian_link")
    with op.batch_alter_table("student", schema=None) as batch_op:
        batch_op.drop_index("ix_student_school_id_grade_class_name")

    op.drop_table("student")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_venue_id"))
        batch_op.drop_index(batch_op.f("ix_account_school_id"))
        batch_op.drop_index(batch_op.f("ix_account_bureau_id"))

    op.drop_table("account")
    with op.batch_alter_table("bureau", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bureau_region_code"))

    op.drop_table("bureau")
    op.drop_table("wechat_user")
    with op.batch_alter_table("refresh_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_token_subject"))
        batch_op.drop_index("ix_refresh_token_family")

    op.drop_table("refresh_token")
    op.drop_table("rate_limit_counter")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_school_id_at")
        batch_op.drop_index("ix_audit_log_action_at")

    op.drop_table("audit_log")
