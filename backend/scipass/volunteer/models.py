"""Volunteer roles (志愿岗位), their shifts (班次), sign-ups, and the notification outbox.

* A role belongs to its organiser (:mod:`scipass.org.organiser`): a venue, or a school for its
  own science festival. Three presets (小小志愿者, 小小科普辅导员, 科普小达人, 003 三.(二)) are
  offered ready to use; an organiser adds its own. A role says what it suits (stages and/or a
  minimum age, 《志愿服务条例》 art. 15), the training it needs (a text, or a prerequisite role
  the pupil must have served), and the most a pupil may serve in a day (default 4 hours,
  never above 8: a check constraint).
* A shift has a start, an end, a place, a capacity and a sign-up cut-off; shifts published
  together share a ``series_key``. ``taken`` only changes through conditional updates
  (``taken < capacity``) and a check constraint backs them.
* A sign-up is a pupil's place (or place in the waitlist) on a shift: ``signed_up``,
  ``waitlisted``, ``cancelled``, and after the shift ``attended`` or ``no_show``. One live
  sign-up per pupil and shift (a partial unique index). The attendance and confirmed-minutes
  columns are filled by the attendance work (issue 18 points 4 and 5).
* The outbox (``notification_outbox``) holds events for the pupil and guardians (a shift
  cancelled, a waitlist place promoted). Nothing sends them yet: the WeChat subscribe-message
  sender reads unsent rows (``sent_at`` NULL) and marks them sent.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime
from scipass.org.organiser import one_organiser_check
from scipass.privacy.categories import DataCategory, personal


class RolePreset(StrEnum):
    little_volunteer = "little_volunteer"  # 小小志愿者
    little_docent = "little_docent"  # 小小科普辅导员
    science_star = "science_star"  # 科普小达人


class ShiftStatus(StrEnum):
    open = "open"
    cancelled = "cancelled"


class SignupStatus(StrEnum):
    signed_up = "signed_up"  # holds a place
    waitlisted = "waitlisted"  # waits for a place, promoted first come first served
    cancelled = "cancelled"  # by the pupil, a guardian, the school, or the shift's cancellation
    attended = "attended"  # came (attendance through check-in)
    no_show = "no_show"  # held a place and did not come


class SignupKind(StrEnum):
    individual = "individual"  # the pupil, or a guardian for the child
    group = "group"  # the school for a group of its pupils


class NotificationKind(StrEnum):
    volunteer_shift_cancelled = "volunteer_shift_cancelled"
    volunteer_promoted = "volunteer_promoted"


LIVE_SIGNUP = "status <> 'cancelled'"
UNSENT = "sent_at IS NULL"
DEFAULT_MAX_DAILY_MINUTES = 240
MAX_DAILY_MINUTES_CAP = 480


class VolunteerRole(SQLModel, table=True):
    __tablename__ = "volunteer_role"
    __table_args__ = (
        one_organiser_check(),
        CheckConstraint(
            f"max_daily_minutes > 0 AND max_daily_minutes <= {MAX_DAILY_MINUTES_CAP}",
            name="max_daily_minutes_within_8_hours",
        ),
        CheckConstraint("min_age IS NULL OR min_age > 0", name="min_age_positive"),
        Index("ix_volunteer_role_venue_id", "venue_id"),
        Index("ix_volunteer_role_school_id", "school_id"),
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
    preset: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    name: str = Field(sa_column=Column(String(40), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    duties: str = Field(default="", sa_column=Column(Text, nullable=False))
    # Stages it suits, encoded as in :func:`scipass.org.models.encode_stages` ("" = any stage).
    stages: str = Field(default="", sa_column=Column(String(60), nullable=False))
    min_age: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    training: str = Field(default="", sa_column=Column(String(500), nullable=False))
    prerequisite_role_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("volunteer_role.id"), nullable=True)
    )
    max_daily_minutes: int = Field(
        default=DEFAULT_MAX_DAILY_MINUTES, sa_column=Column(Integer, nullable=False)
    )
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    created_by: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class VolunteerShift(SQLModel, table=True):
    __tablename__ = "volunteer_shift"
    __table_args__ = (
        one_organiser_check(),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("taken >= 0 AND taken <= capacity", name="taken_within_capacity"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("signup_closes_at <= starts_at", name="closes_before_start"),
        Index("ix_volunteer_shift_role_id_starts_at", "role_id", "starts_at"),
        Index("ix_volunteer_shift_venue_id_starts_at", "venue_id", "starts_at"),
        Index("ix_volunteer_shift_school_id_starts_at", "school_id", "starts_at"),
        Index("ix_volunteer_shift_series_key", "series_key"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    role_id: int = Field(sa_column=Column(IdType, ForeignKey("volunteer_role.id"), nullable=False))
    # The role's organiser, copied so that lists and scans narrow by it without a join.
    school_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("school.id"), nullable=True)
    )
    venue_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("venue.id"), nullable=True)
    )
    bureau_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("bureau.id"), nullable=True)
    )
    series_key: str | None = Field(default=None, sa_column=Column(String(24), nullable=True))
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    place: str = Field(default="", sa_column=Column(String(100), nullable=False))
    capacity: int = Field(sa_column=Column(Integer, nullable=False))
    taken: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    signup_closes_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Whether a pupil who did not sign up may fill a free place on arrival (attendance, point 4).
    walk_ins: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    status: str = Field(default=ShiftStatus.open, sa_column=Column(String(10), nullable=False))
    note: str = Field(default="", sa_column=Column(String(200), nullable=False))
    created_by: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    cancelled_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    cancelled_by: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    cancel_reason: str = Field(default="", sa_column=Column(String(200), nullable=False))


class VolunteerSignup(SQLModel, table=True):
    __tablename__ = "volunteer_signup"
    __table_args__ = (
        UniqueConstraint("made_by", "idempotency_key"),
        CheckConstraint(
            "confirmed_minutes IS NULL OR confirmed_minutes >= 0", name="minutes_not_negative"
        ),
        Index("ix_volunteer_signup_shift_id_status", "shift_id", "status", "id"),
        Index("ix_volunteer_signup_student_id_status", "student_id", "status"),
        Index("ix_volunteer_signup_school_id", "school_id"),
        Index(
            "uq_volunteer_signup_live_shift_student",
            "shift_id",
            "student_id",
            unique=True,
            sqlite_where=text(LIVE_SIGNUP),
            postgresql_where=text(LIVE_SIGNUP),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    shift_id: int = Field(
        sa_column=Column(IdType, ForeignKey("volunteer_shift.id"), nullable=False)
    )
    role_id: int = Field(sa_column=Column(IdType, ForeignKey("volunteer_role.id"), nullable=False))
    student_id: int = Field(
        sa_column=Column(
            IdType,
            ForeignKey("student.id"),
            nullable=False,
            info=personal(DataCategory.volunteering),
        )
    )
    # The pupil's school when they signed up (schools list their pupils' sign-ups by it).
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    kind: str = Field(sa_column=Column(String(12), nullable=False))
    group_label: str = Field(default="", sa_column=Column(String(60), nullable=False))
    status: str = Field(sa_column=Column(String(12), nullable=False))
    made_by: str = Field(sa_column=Column(String(40), nullable=False))
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # When the place was taken: at sign-up, or when promoted from the waitlist.
    placed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    promoted_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    cancelled_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    cancelled_by: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    cancel_reason: str = Field(default="", sa_column=Column(String(200), nullable=False))
    # Attendance and confirmed minutes (issue 18 points 4 and 5): filled after the shift.
    arrived_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    left_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    confirmed_minutes: int | None = Field(
        default=None,
        sa_column=Column(Integer, nullable=True, info=personal(DataCategory.volunteering)),
    )
    minutes_reason: str = Field(default="", sa_column=Column(String(200), nullable=False))
    confirmed_by: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    record_id: int | None = Field(
        default=None,
        sa_column=Column(IdType, ForeignKey("participation_record.id"), nullable=True),
    )


class NotificationOutbox(SQLModel, table=True):
    """Events to tell a pupil (and guardians) about, written in the transaction that caused
    them. Nothing sends them yet: the WeChat subscribe-message sender will read the unsent
    rows in order and set ``sent_at``."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        Index("ix_notification_outbox_student_id", "student_id"),
        Index(
            "ix_notification_outbox_unsent",
            "id",
            sqlite_where=text(UNSENT),
            postgresql_where=text(UNSENT),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    student_id: int = Field(sa_column=Column(IdType, ForeignKey("student.id"), nullable=False))
    payload: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False, info=personal(DataCategory.notification)),
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class CertificateStatus(StrEnum):
    valid = "valid"
    voided = "voided"  # one of its records was voided (or rejected): issue a new one


class VolunteerCertificate(SQLModel, table=True):
    """A 志愿服务记录证明 (民发〔2015〕149号) a venue issued to a pupil for a period, from
    confirmed shifts past their publicity period. ``number`` is drawn with :mod:`secrets`
    (unguessable: the public verification endpoint looks it up). What it certifies is
    kept as issued (``content``: per role, the hours and what was done) with the shifts it
    counted (:class:`VolunteerCertificateItem`)."""

    __tablename__ = "volunteer_certificate"
    __table_args__ = (
        Index("ix_volunteer_certificate_student_id", "student_id"),
        Index("ix_volunteer_certificate_venue_id", "venue_id"),
        CheckConstraint("minutes > 0", name="minutes_positive"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    number: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    student_id: int = Field(
        sa_column=Column(
            IdType,
            ForeignKey("student.id"),
            nullable=False,
            info=personal(DataCategory.volunteering),
        )
    )
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    venue_id: int = Field(sa_column=Column(IdType, ForeignKey("venue.id"), nullable=False))
    from_date: date = Field(sa_column=Column(Date, nullable=False))
    to_date: date = Field(sa_column=Column(Date, nullable=False))
    minutes: int = Field(
        sa_column=Column(Integer, nullable=False, info=personal(DataCategory.volunteering))
    )
    times: int = Field(sa_column=Column(Integer, nullable=False))
    content: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    person_in_charge: str = Field(sa_column=Column(String(40), nullable=False))
    handler: str = Field(sa_column=Column(String(40), nullable=False))
    contact: str = Field(sa_column=Column(String(40), nullable=False))
    status: str = Field(
        default=CertificateStatus.valid, sa_column=Column(String(8), nullable=False)
    )
    issued_by: str = Field(sa_column=Column(String(40), nullable=False))
    issued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    voided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    void_reason: str = Field(default="", sa_column=Column(String(200), nullable=False))


class VolunteerCertificateItem(SQLModel, table=True):
    """A shift (its sign-up and its participation record) a certificate counted."""

    __tablename__ = "volunteer_certificate_item"
    __table_args__ = (Index("ix_volunteer_certificate_item_record_id", "record_id"),)

    certificate_id: int = Field(
        sa_column=Column(
            IdType, ForeignKey("volunteer_certificate.id"), primary_key=True, nullable=False
        )
    )
    signup_id: int = Field(
        sa_column=Column(
            IdType, ForeignKey("volunteer_signup.id"), primary_key=True, nullable=False
        )
    )
    record_id: int = Field(
        sa_column=Column(IdType, ForeignKey("participation_record.id"), nullable=False)
    )
