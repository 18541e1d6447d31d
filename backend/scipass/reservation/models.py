"""Time slots of a venue (or of one of its resources or activities) and reservations of them.

Capacity is decided by the database: ``taken`` only changes through conditional updates
(``taken + n <= capacity``) and a check constraint backs them; one student holds at most one
place per slot (``UNIQUE(slot_id, student_id)`` on the members of active reservations).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime
from scipass.privacy.categories import DataCategory, personal


class SlotStatus(StrEnum):
    open = "open"
    cancelled = "cancelled"


class ReservationKind(StrEnum):
    individual = "individual"  # a student for themself
    group = "group"  # a teacher for a class or a list of students


class ReservationStatus(StrEnum):
    confirmed = "confirmed"
    waitlisted = "waitlisted"
    cancelled = "cancelled"


class TimeSlot(SQLModel, table=True):
    __tablename__ = "time_slot"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("taken >= 0 AND taken <= capacity", name="taken_within_capacity"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_time_slot_venue_id_starts_at", "venue_id", "starts_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    venue_id: int = Field(sa_column=Column(IdType, ForeignKey("venue.id"), nullable=False))
    resource_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("venue_resource.id"), nullable=True)
    )
    activity_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("activity.id"), nullable=True)
    )
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    capacity: int = Field(sa_column=Column(Integer, nullable=False))
    taken: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    # 003 三.(二): venues open in after-school hours with a green channel for school groups.
    school_channel: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    school_priority_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    status: str = Field(default=SlotStatus.open, sa_column=Column(String(10), nullable=False))
    note: str = Field(default="", sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Reservation(SQLModel, table=True):
    __tablename__ = "reservation"
    __table_args__ = (
        UniqueConstraint("made_by", "idempotency_key"),
        CheckConstraint("party_size > 0", name="party_size_positive"),
        Index("ix_reservation_slot_id_status", "slot_id", "status", "id"),
        Index("ix_reservation_school_id", "school_id"),
        Index("ix_reservation_student_id", "student_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    slot_id: int = Field(sa_column=Column(IdType, ForeignKey("time_slot.id"), nullable=False))
    kind: str = Field(sa_column=Column(String(12), nullable=False))
    student_id: int | None = Field(
        default=None,
        sa_column=Column(
            IdType, ForeignKey("student.id"), nullable=True, info=personal(DataCategory.attendance)
        ),
    )
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    group_label: str = Field(default="", sa_column=Column(String(60), nullable=False))
    students: int = Field(sa_column=Column(Integer, nullable=False))
    escorts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    party_size: int = Field(sa_column=Column(Integer, nullable=False))
    status: str = Field(sa_column=Column(String(12), nullable=False))
    made_by: str = Field(sa_column=Column(String(40), nullable=False))
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    note: str = Field(default="", sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    cancelled_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    cancelled_by: str = Field(default="", sa_column=Column(String(40), nullable=False))
    cancel_reason: str = Field(default="", sa_column=Column(String(200), nullable=False))


class ReservationMember(SQLModel, table=True):
    """A student holding (or waiting for) a place; removed when the reservation is cancelled."""

    __tablename__ = "reservation_member"
    __table_args__ = (UniqueConstraint("slot_id", "student_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    reservation_id: int = Field(
        sa_column=Column(IdType, ForeignKey("reservation.id"), nullable=False, index=True)
    )
    slot_id: int = Field(sa_column=Column(IdType, ForeignKey("time_slot.id"), nullable=False))
    student_id: int = Field(sa_column=Column(IdType, ForeignKey("student.id"), nullable=False))
