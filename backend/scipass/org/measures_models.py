"""Facts about organisations that the policy rules measure (issue 19, part 1), besides the
activities' own flags and the schools' (``remote``, ``main_urban_district``):

* a school's science staff (004 二.5: a 科学副校长 and at least one 科技辅导员), each with the
  date they took the role and the date they left it;
* a bureau's science counsellor trainings and who attended (000 二.7: 100 person-times a
  year; 001 二.(一).7: 200): person-times are attendee rows;
* mobile science museum tours (流动科技馆, 003 三.(一): at least two months a year in remote
  areas): an organiser's tour to one school, over inclusive dates;
* a region's school calendar: term dates for a school year, inherited by the regions below
  that have none of their own (the engine counts term weeks from it).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime
from scipass.org.organiser import one_organiser_check


class SchoolScienceStaff(SQLModel, table=True):
    """Someone in a science role at a school (``scipass.policy.vocab.StaffRole``), from
    ``started_on`` until ``ended_on`` (inclusive; NULL while in the role)."""

    __tablename__ = "school_science_staff"
    __table_args__ = (
        UniqueConstraint("school_id", "role", "name", "started_on"),
        CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="ends_after_start"),
        Index("ix_school_science_staff_school_id_role", "school_id", "role"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    role: str = Field(sa_column=Column(String(20), nullable=False))
    name: str = Field(sa_column=Column(String(40), nullable=False))
    title: str = Field(default="", sa_column=Column(String(60), nullable=False))
    started_on: date = Field(sa_column=Column(Date, nullable=False))
    ended_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    created_by: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class CounsellorTraining(SQLModel, table=True):
    """A science counsellor training session a bureau held (or had its staff attend)."""

    __tablename__ = "counsellor_training"
    __table_args__ = (
        UniqueConstraint("bureau_id", "title", "held_on"),
        CheckConstraint("hours IS NULL OR hours > 0", name="hours_positive"),
        Index("ix_counsellor_training_region_code_held_on", "region_code", "held_on"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    bureau_id: int = Field(sa_column=Column(IdType, ForeignKey("bureau.id"), nullable=False))
    # The bureau's region, so that a region's trainings are read without a join.
    region_code: str = Field(sa_column=Column(String(6), ForeignKey("region.code"), nullable=False))
    title: str = Field(sa_column=Column(String(100), nullable=False))
    held_on: date = Field(sa_column=Column(Date, nullable=False))
    hours: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))  # 学时
    created_by: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class CounsellorTrainingAttendee(SQLModel, table=True):
    """One person-time: someone who attended a training, with their school when it is one of
    the region's (NULL for a counsellor from outside it, a venue or a university)."""

    __tablename__ = "counsellor_training_attendee"
    __table_args__ = (
        Index("ix_counsellor_training_attendee_training_id", "training_id"),
        Index("ix_counsellor_training_attendee_school_id", "school_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    training_id: int = Field(
        sa_column=Column(IdType, ForeignKey("counsellor_training.id"), nullable=False)
    )
    name: str = Field(sa_column=Column(String(40), nullable=False))
    school_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("school.id"), nullable=True)
    )


class MobileMuseumTour(SQLModel, table=True):
    """A mobile science museum's stay at a school, from ``starts_on`` to ``ends_on``
    (inclusive: the days covered are the dates between them). Its organiser is a venue (the
    science museum that runs it), a bureau or science association, or a school with a campus
    science museum (000 二.6) visiting another: exactly one of the three organiser keys
    (``scipass.org.organiser``), so the school visited is ``visited_school_id``."""

    __tablename__ = "mobile_museum_tour"
    __table_args__ = (
        one_organiser_check(),
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        Index("ix_mobile_museum_tour_visited_school_id", "visited_school_id", "starts_on"),
        Index("ix_mobile_museum_tour_venue_id", "venue_id"),
        Index("ix_mobile_museum_tour_bureau_id", "bureau_id"),
        Index("ix_mobile_museum_tour_school_id", "school_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    school_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("school.id"), nullable=True)
    )
    venue_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("venue.id"), nullable=True)
    )
    bureau_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("bureau.id"), nullable=True)
    )
    visited_school_id: int = Field(
        sa_column=Column(IdType, ForeignKey("school.id"), nullable=False)
    )
    starts_on: date = Field(sa_column=Column(Date, nullable=False))
    ends_on: date = Field(sa_column=Column(Date, nullable=False))
    note: str = Field(default="", sa_column=Column(String(200), nullable=False))
    created_by: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SchoolCalendar(SQLModel, table=True):
    """A region's term dates for a school year (inclusive). A region without a row takes its
    nearest ancestor's; without any, the code's semester rule applies
    (``scipass.core.clock.term_of``)."""

    __tablename__ = "school_calendar"
    __table_args__ = (
        UniqueConstraint("region_code", "school_year"),
        CheckConstraint(
            "autumn_start <= autumn_end AND autumn_end < spring_start "
            "AND spring_start <= spring_end",
            name="terms_in_order",
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    region_code: str = Field(sa_column=Column(String(6), ForeignKey("region.code"), nullable=False))
    school_year: int = Field(sa_column=Column(Integer, nullable=False))
    autumn_start: date = Field(sa_column=Column(Date, nullable=False))
    autumn_end: date = Field(sa_column=Column(Date, nullable=False))
    spring_start: date = Field(sa_column=Column(Date, nullable=False))
    spring_end: date = Field(sa_column=Column(Date, nullable=False))
    updated_by: str = Field(sa_column=Column(String(40), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
