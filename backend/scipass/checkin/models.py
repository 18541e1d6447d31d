"""Activity codes, check-ins (visits) and the scan events behind them.

An :class:`ActivityCode` is what a venue shows: a static poster code or a rotating screen code,
both signed links (see ``codes.py``), and optionally a stored WeChat mini-program code whose
``scene`` is the code's short id. A :class:`CheckIn` is one student's visit to one activity on
one day (Beijing date): unique on ``(activity_id, student_id, day)``, so however many times a
student scans, there is one visit. Every scan attempt, accepted or refused, is an append-only
:class:`ScanEvent`; ``(operator, nonce)`` is unique, so a retried request or a re-uploaded
offline batch finds its first event instead of adding a second. A :class:`PersonalCard` is a
printed personal code a school issued to a pupil without a phone, kept so that a lost card
can be revoked.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime
from scipass.privacy.categories import DataCategory, personal


class CodeKind(StrEnum):
    static = "static"  # printed poster, valid in the activity's check-in window
    rotating = "rotating"  # shown on a venue screen, a new code every step


class Direction(StrEnum):
    entry = "entry"
    exit = "exit"


class ScanSource(StrEnum):
    self_scan = "self_scan"  # the student scanned the venue's code
    staff_scan = "staff_scan"  # staff scanned the student's personal code
    group = "group"  # a teacher checked a class in
    offline = "offline"  # uploaded later from a venue device


class ScanResult(StrEnum):
    accepted = "accepted"  # a new visit, or its exit
    duplicate = "duplicate"  # the visit already existed: answered with it
    refused = "refused"


class ClosedBy(StrEnum):
    exit_scan = "exit_scan"
    auto_closed = "auto_closed"  # by `scipass close-visits` at the activity's (or day's) end
    staff = "staff"  # a staff correction


class ActivityCode(SQLModel, table=True):
    """A code of one scan target: an activity, or a volunteer shift (issue 18: a shift is a
    scan target of its own, so its attendance never makes a visit). Exactly one is named."""

    __tablename__ = "activity_code"
    __table_args__ = (
        Index("ix_activity_code_activity_id", "activity_id"),
        Index("ix_activity_code_shift_id", "shift_id"),
        CheckConstraint("(activity_id IS NULL) <> (shift_id IS NULL)", name="one_target"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    activity_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("activity.id"), nullable=True)
    )
    shift_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("volunteer_shift.id"), nullable=True)
    )
    kind: str = Field(sa_column=Column(String(10), nullable=False))
    # 8 base32 characters: the key of the payload and the mini-program code's scene.
    short_id: str = Field(sa_column=Column(String(8), nullable=False, unique=True))
    step_seconds: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    valid_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    revoked_by: str = Field(default="", sa_column=Column(String(40), nullable=False))
    revoke_reason: str = Field(default="", sa_column=Column(String(200), nullable=False))
    created_by: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class WxaCodeImage(SQLModel, table=True):
    """A mini-program code fetched from WeChat once and kept (WeChat allows 5,000 a minute)."""

    __tablename__ = "wxacode_image"
    __table_args__ = (UniqueConstraint("code_id", "env_version"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    code_id: int = Field(sa_column=Column(IdType, ForeignKey("activity_code.id"), nullable=False))
    env_version: str = Field(sa_column=Column(String(10), nullable=False))
    page: str = Field(sa_column=Column(String(100), nullable=False))
    png: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class CheckIn(SQLModel, table=True):
    """One student's visit to one activity on one (Beijing) day."""

    __tablename__ = "check_in"
    __table_args__ = (
        UniqueConstraint("activity_id", "student_id", "day"),
        Index("ix_check_in_activity_id_day", "activity_id", "day"),
        Index("ix_check_in_student_id", "student_id"),
        Index("ix_check_in_open", "exited_at", "activity_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    activity_id: int = Field(sa_column=Column(IdType, ForeignKey("activity.id"), nullable=False))
    student_id: int = Field(sa_column=Column(IdType, ForeignKey("student.id"), nullable=False))
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    day: date = Field(sa_column=Column(Date, nullable=False))
    source: str = Field(sa_column=Column(String(12), nullable=False))
    code_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("activity_code.id"), nullable=True)
    )
    entered_at: datetime = Field(
        sa_column=Column(UTCDateTime(), nullable=False, info=personal(DataCategory.attendance))
    )
    exited_at: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime(), nullable=True, info=personal(DataCategory.attendance)),
    )
    closed_by: str | None = Field(default=None, sa_column=Column(String(12), nullable=True))
    minutes: int | None = Field(
        default=None,
        sa_column=Column(Integer, nullable=True, info=personal(DataCategory.attendance)),
    )
    record_id: int | None = Field(
        default=None,
        sa_column=Column(IdType, ForeignKey("participation_record.id"), nullable=True),
    )
    operator: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ScanEvent(SQLModel, table=True):
    """One scan attempt, as it arrived and as it was judged. Never updated."""

    __tablename__ = "scan_event"
    __table_args__ = (
        UniqueConstraint("operator", "nonce"),
        Index("ix_scan_event_activity_id_result", "activity_id", "result"),
        Index("ix_scan_event_student_id", "student_id"),
        Index("ix_scan_event_shift_id_result", "shift_id", "result"),
        # A school's review of its pupils' scans, newest first.
        Index("ix_scan_event_school_id_server_time", "school_id", "server_time"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    activity_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("activity.id"), nullable=True)
    )
    # A scan of a volunteer shift (its code, or a staff scan for it): its attendance is on the
    # pupil's sign-up, and it has no visit.
    shift_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("volunteer_shift.id"), nullable=True)
    )
    code_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("activity_code.id"), nullable=True)
    )
    student_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("student.id"), nullable=True)
    )
    school_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("school.id"), nullable=True)
    )
    check_in_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("check_in.id"), nullable=True)
    )
    direction: str = Field(sa_column=Column(String(5), nullable=False))
    source: str = Field(sa_column=Column(String(12), nullable=False))
    # Who sent it: the WeChat subject of the student, or of the guardian scanning for a linked
    # child, for a self-scan; the staff account otherwise.
    operator: str = Field(sa_column=Column(String(40), nullable=False))
    nonce: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # A digest of what was scanned, so that a nonce reused for another scan is recognised.
    fingerprint: str = Field(sa_column=Column(String(32), nullable=False))
    server_time: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    scan_time: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime(), nullable=True, info=personal(DataCategory.attendance)),
    )
    forced: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )
    latitude: float | None = Field(
        default=None, sa_column=Column(Float, nullable=True, info=personal(DataCategory.location))
    )
    longitude: float | None = Field(
        default=None, sa_column=Column(Float, nullable=True, info=personal(DataCategory.location))
    )
    accuracy_m: float | None = Field(
        default=None, sa_column=Column(Float, nullable=True, info=personal(DataCategory.location))
    )
    distance_m: int | None = Field(
        default=None, sa_column=Column(Integer, nullable=True, info=personal(DataCategory.location))
    )
    result: str = Field(
        sa_column=Column(String(10), nullable=False, info=personal(DataCategory.attendance))
    )
    reason: str = Field(default="", sa_column=Column(String(40), nullable=False))


class PersonalCard(SQLModel, table=True):
    """A printed personal code, issued by the pupil's school; revoked when the card is lost.
    The code itself is not kept, only its nonce (the random part of its signed payload), by
    which a scan of the card is recognised."""

    __tablename__ = "personal_card"
    __table_args__ = (UniqueConstraint("nonce"), Index("ix_personal_card_student_id", "student_id"))

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    student_id: int = Field(sa_column=Column(IdType, ForeignKey("student.id"), nullable=False))
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    nonce: str = Field(sa_column=Column(String(12), nullable=False))  # hex of 6 bytes
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    issued_by: str = Field(sa_column=Column(String(40), nullable=False))
    issued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    revoked_by: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    revoke_reason: str = Field(default="", sa_column=Column(String(200), nullable=False))
