"""Activities organised by a venue, a school or a bureau, and how they enter students' records.

The record category and evaluation dimension chosen here are copied onto each participation
record later; the default dimension follows DESIGN.md (venue visits, courses and camps →
社会实践; competitions and research → 学业水平; volunteer service → 思想品德).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime
from scipass.org.organiser import one_organiser_check
from scipass.record.models import RecordCategory


class ActivityKind(StrEnum):
    venue_visit = "venue_visit"
    course = "course"
    lecture = "lecture"
    scientist_in_school = "scientist_in_school"
    science_festival = "science_festival"
    science_camp = "science_camp"
    club = "club"
    mobile_museum = "mobile_museum"
    other = "other"


class Admission(StrEnum):
    open = "open"  # walk in, check in with a code
    reservation = "reservation"  # book a time slot first
    registration = "registration"  # register (and be approved) first


class AutoCloseCredit(StrEnum):
    scheduled = "scheduled"  # the scheduled time from entry to the close
    zero = "zero"  # nothing: the visit needed an exit scan


class ActivityStatus(StrEnum):
    draft = "draft"
    published = "published"
    cancelled = "cancelled"
    finished = "finished"


# The record category a participation in each kind of activity becomes (DESIGN.md).
DEFAULT_CATEGORY = {
    ActivityKind.venue_visit: RecordCategory.science_visit,
    ActivityKind.course: RecordCategory.course_lecture,
    ActivityKind.lecture: RecordCategory.course_lecture,
    ActivityKind.scientist_in_school: RecordCategory.course_lecture,
    ActivityKind.science_festival: RecordCategory.science_visit,
    ActivityKind.science_camp: RecordCategory.inquiry,
    ActivityKind.club: RecordCategory.inquiry,
    ActivityKind.mobile_museum: RecordCategory.science_visit,
    ActivityKind.other: RecordCategory.other,
}
# Which statuses a transition may leave from.
TRANSITIONS = {
    ActivityStatus.published: (ActivityStatus.draft,),
    ActivityStatus.cancelled: (ActivityStatus.draft, ActivityStatus.published),
    ActivityStatus.finished: (ActivityStatus.published,),
}


class Activity(SQLModel, table=True):
    __tablename__ = "activity"
    __table_args__ = (
        one_organiser_check(),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
        CheckConstraint(
            "capacity IS NULL OR checked_in <= capacity", name="checked_in_within_capacity"
        ),
        CheckConstraint("minutes_unit > 0", name="minutes_unit_positive"),
        Index("ix_activity_status_starts_at", "status", "starts_at"),
        Index("ix_activity_venue_id", "venue_id"),
        Index("ix_activity_school_id", "school_id"),
        Index("ix_activity_bureau_id", "bureau_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    venue_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("venue.id"), nullable=True)
    )
    school_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("school.id"), nullable=True)
    )
    # An education bureau or science association (scipass.org.organiser): exactly one of the
    # three organiser keys is set.
    bureau_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("bureau.id"), nullable=True)
    )
    kind: str = Field(sa_column=Column(String(30), nullable=False))
    title: str = Field(sa_column=Column(String(100), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    place_name: str = Field(sa_column=Column(String(100), nullable=False))
    address: str = Field(default="", sa_column=Column(String(200), nullable=False))
    longitude: float | None = Field(default=None, nullable=True)  # GCJ-02
    latitude: float | None = Field(default=None, nullable=True)  # GCJ-02
    geofence_radius_m: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    capacity: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    admission: str = Field(sa_column=Column(String(20), nullable=False))
    # A school's own activity admits only its pupils unless the school opens it (a science
    # festival with neighbouring schools); a venue's activity is open to every school.
    open_to_other_schools: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )
    stages: str = Field(sa_column=Column(String(60), nullable=False))
    credited_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    record_category: str = Field(sa_column=Column(String(20), nullable=False))
    dimension: str = Field(sa_column=Column(String(20), nullable=False))
    # Records of this activity are confirmed on creation (the organiser attests in advance).
    auto_confirm_records: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )
    # Check-in (DESIGN.md "Codes and check-in"): the window opens this long before the start
    # and closes this long after it (NULL: at the end); a visit's minutes are rounded down to
    # the unit and capped per day; a visit left open is credited its scheduled length or zero.
    checkin_opens_minutes: int = Field(
        default=30, sa_column=Column(Integer, nullable=False, server_default="30")
    )
    checkin_closes_minutes: int | None = Field(
        default=None, sa_column=Column(Integer, nullable=True)
    )
    minutes_unit: int = Field(
        default=30, sa_column=Column(Integer, nullable=False, server_default="30")
    )
    daily_cap_minutes: int = Field(
        default=480, sa_column=Column(Integer, nullable=False, server_default="480")
    )
    auto_close_credit: str = Field(
        default="scheduled",
        sa_column=Column(String(10), nullable=False, server_default="scheduled"),
    )
    geofence_max_accuracy_m: int = Field(
        default=100, sa_column=Column(Integer, nullable=False, server_default="100")
    )
    # Counted only when ``capacity`` is set: check-ins so far (a conditional update keeps
    # it within the capacity).
    checked_in: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    # What the policy rules measure (scipass.policy.vocab): held in after-school service
    # (课后服务, 003 三.(一)), the named programme it belongs to (004 二.4; 003 三.(一)) and the
    # campaigns it is part of, a comma list like ``stages`` (empty for none).
    after_school: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )
    programme: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    campaigns: str = Field(default="", sa_column=Column(String(120), nullable=False))
    status: str = Field(sa_column=Column(String(12), nullable=False))
    status_reason: str = Field(default="", sa_column=Column(String(200), nullable=False))
    created_by: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
