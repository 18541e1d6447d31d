"""What the policy rules measure (issue 19, part 1).

* activity: a bureau may organise one (``bureau_id``; the check becomes "exactly one of
  school, venue, bureau", ``scipass.org.organiser``), and an activity says whether it is held
  in after-school service (``after_school``, 课后服务), the programme it belongs to
  (``programme``) and the campaigns it is part of (``campaigns``, a comma list). Existing
  activities: not after-school, no programme, no campaign.
* school: ``remote`` (边远地区) and ``main_urban_district`` (城市主城区, only for an urban
  school), false for every existing school.
* new tables: ``school_science_staff``, ``counsellor_training`` with
  ``counsellor_training_attendee``, ``mobile_museum_tour``, ``school_calendar``.

Downgrading refuses while a bureau organises an activity (the older schema has no place for
it, and its codes, visits and records hang on it); everything else goes.

On SQLite a new check constraint means rebuilding the table (copy, drop, rename), and
``activity`` and ``school`` are pointed at by other tables: with foreign keys on, dropping
them fails (or, deferred, fails the commit). SQLite switches foreign keys only outside a
transaction, so the migration switches them off in an autocommit block, rebuilds in its
transaction, checks every foreign key (``PRAGMA foreign_key_check``) before that commits, and
switches them on again.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# scipass.org.organiser.one_organiser_check(), as it stands at this revision
ONE_ORGANISER = (
    "(CASE WHEN school_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN venue_id IS NULL THEN 0 ELSE 1 END) "
    "+ (CASE WHEN bureau_id IS NULL THEN 0 ELSE 1 END) = 1"
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _foreign_keys(on: bool) -> None:
    if _sqlite():
        with op.get_context().autocommit_block():
            op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _check_foreign_keys() -> None:
    if _sqlite():
        broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:10]}")


def upgrade() -> None:
    _foreign_keys(on=False)
    op.create_table(
        "school_calendar",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.Column("autumn_start", sa.Date(), nullable=False),
        sa.Column("autumn_end", sa.Date(), nullable=False),
        sa.Column("spring_start", sa.Date(), nullable=False),
        sa.Column("spring_end", sa.Date(), nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "autumn_start <= autumn_end AND autumn_end < spring_start AND spring_start <= spring_end",
            name=op.f("ck_school_calendar_terms_in_order"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_school_calendar_region_code_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_calendar")),
        sa.UniqueConstraint(
            "region_code", "school_year", name=op.f("uq_school_calendar_region_code_school_year")
        ),
    )
    op.create_table(
        "counsellor_training",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "bureau_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "hours IS NULL OR hours > 0", name=op.f("ck_counsellor_training_hours_positive")
        ),
        sa.ForeignKeyConstraint(
            ["bureau_id"], ["bureau.id"], name=op.f("fk_counsellor_training_bureau_id_bureau")
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_counsellor_training_region_code_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counsellor_training")),
        sa.UniqueConstraint(
            "bureau_id",
            "title",
            "held_on",
            name=op.f("uq_counsellor_training_bureau_id_title_held_on"),
        ),
    )
    with op.batch_alter_table("counsellor_training", schema=None) as batch_op:
        batch_op.create_index(
            "ix_counsellor_training_region_code_held_on", ["region_code", "held_on"], unique=False
        )

    op.create_table(
        "mobile_museum_tour",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("school_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("venue_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("bureau_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "visited_school_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(ONE_ORGANISER, name=op.f("ck_mobile_museum_tour_one_organiser")),
        sa.CheckConstraint(
            "ends_on >= starts_on", name=op.f("ck_mobile_museum_tour_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["bureau_id"], ["bureau.id"], name=op.f("fk_mobile_museum_tour_bureau_id_bureau")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_mobile_museum_tour_school_id_school")
        ),
        sa.ForeignKeyConstraint(
            ["venue_id"], ["venue.id"], name=op.f("fk_mobile_museum_tour_venue_id_venue")
        ),
        sa.ForeignKeyConstraint(
            ["visited_school_id"],
            ["school.id"],
            name=op.f("fk_mobile_museum_tour_visited_school_id_school"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobile_museum_tour")),
    )
    with op.batch_alter_table("mobile_museum_tour", schema=None) as batch_op:
        batch_op.create_index("ix_mobile_museum_tour_bureau_id", ["bureau_id"], unique=False)
        batch_op.create_index("ix_mobile_museum_tour_school_id", ["school_id"], unique=False)
        batch_op.create_index("ix_mobile_museum_tour_venue_id", ["venue_id"], unique=False)
        batch_op.create_index(
            "ix_mobile_museum_tour_visited_school_id",
            ["visited_school_id", "starts_on"],
            unique=False,
        )

    op.create_table(
        "school_science_staff",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "school_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "ended_on IS NULL OR ended_on >= started_on",
            name=op.f("ck_school_science_staff_ends_after_start"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_school_science_staff_school_id_school")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_science_staff")),
        sa.UniqueConstraint(
            "school_id",
            "role",
            "name",
            "started_on",
            name=op.f("uq_school_science_staff_school_id_role_name_started_on"),
        ),
    )
    with op.batch_alter_table("school_science_staff", schema=None) as batch_op:
        batch_op.create_index(
            "ix_school_science_staff_school_id_role", ["school_id", "role"], unique=False
        )

    op.create_table(
        "counsellor_training_attendee",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "training_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("school_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["school.id"],
            name=op.f("fk_counsellor_training_attendee_school_id_school"),
        ),
        sa.ForeignKeyConstraint(
            ["training_id"],
            ["counsellor_training.id"],
            name=op.f("fk_counsellor_training_attendee_training_id_counsellor_training"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counsellor_training_attendee")),
    )
    with op.batch_alter_table("counsellor_training_attendee", schema=None) as batch_op:
        batch_op.create_index(
            "ix_counsellor_training_attendee_school_id", ["school_id"], unique=False
        )
        batch_op.create_index(
            "ix_counsellor_training_attendee_training_id", ["training_id"], unique=False
        )

    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "bureau_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("after_school", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("programme", sa.String(length=30), nullable=True))
        batch_op.add_column(
            sa.Column("campaigns", sa.String(length=120), server_default="", nullable=False)
        )
        batch_op.create_index("ix_activity_bureau_id", ["bureau_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_activity_bureau_id_bureau"), "bureau", ["bureau_id"], ["id"]
        )
        batch_op.drop_constraint(batch_op.f("ck_activity_one_organiser"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_activity_one_organiser"), ONE_ORGANISER)
    with op.batch_alter_table("activity", schema=None) as batch_op:
        # the default only filled the existing rows; new ones always say which campaigns
        batch_op.alter_column("campaigns", existing_type=sa.String(length=120), server_default=None)

    with op.batch_alter_table("school", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remote", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("main_urban_district", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_school_main_urban_district_is_urban"),
            "NOT main_urban_district OR area = 'urban'",
        )

    _check_foreign_keys()
    _foreign_keys(on=True)


def downgrade() -> None:
    bureau_activities = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM activity WHERE bureau_id IS NOT NULL"))
        .scalar_one()
    )
    if bureau_activities:
        raise RuntimeError(
            f"{bureau_activities} activities are organised by a bureau; revision 0018 has no "
            "place for them. Move or delete them first."
        )
    _foreign_keys(on=False)
    with op.batch_alter_table("school", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_school_main_urban_district_is_urban"), type_="check"
        )
        batch_op.drop_column("main_urban_district")
        batch_op.drop_column("remote")

    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_activity_one_organiser"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_activity_one_organiser"), "(venue_id IS NULL) <> (school_id IS NULL)"
        )
        batch_op.drop_constraint(batch_op.f("fk_activity_bureau_id_bureau"), type_="foreignkey")
        batch_op.drop_index("ix_activity_bureau_id")
        batch_op.drop_column("campaigns")
        batch_op.drop_column("programme")
        batch_op.drop_column("after_school")
        batch_op.drop_column("bureau_id")

    with op.batch_alter_table("counsellor_training_attendee", schema=None) as batch_op:
        batch_op.drop_index("ix_counsellor_training_attendee_training_id")
        batch_op.drop_index("ix_counsellor_training_attendee_school_id")

    op.drop_table("counsellor_training_attendee")
    with op.batch_alter_table("school_science_staff", schema=None) as batch_op:
        batch_op.drop_index("ix_school_science_staff_school_id_role")

    op.drop_table("school_science_staff")
    with op.batch_alter_table("mobile_museum_tour", schema=None) as batch_op:
        batch_op.drop_index("ix_mobile_museum_tour_visited_school_id")
        batch_op.drop_index("ix_mobile_museum_tour_venue_id")
        batch_op.drop_index("ix_mobile_museum_tour_school_id")
        batch_op.drop_index("ix_mobile_museum_tour_bureau_id")

    op.drop_table("mobile_museum_tour")
    with op.batch_alter_table("counsellor_training", schema=None) as batch_op:
        batch_op.drop_index("ix_counsellor_training_region_code_held_on")

    op.drop_table("counsellor_training")
    op.drop_table("school_calendar")

    _check_foreign_keys()
    _foreign_keys(on=True)
