"""School–venue pairing (结对), 004 二.4: every urban school paired with at least one venue.

One side proposes (and thereby confirms for itself); the other side confirms or declines.
At most one open (proposed or active) pairing per school and venue, kept by a partial unique
index on both engines."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Date, ForeignKey, Index, String, text
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime


class PairingStatus(StrEnum):
    proposed = "proposed"
    active = "active"
    declined = "declined"
    ended = "ended"


OPEN_STATUSES = "status IN ('proposed', 'active')"


class Pairing(SQLModel, table=True):
    __tablename__ = "pairing"
    __table_args__ = (
        Index(
            "uq_pairing_open_school_venue",
            "school_id",
            "venue_id",
            unique=True,
            sqlite_where=text(OPEN_STATUSES),
            postgresql_where=text(OPEN_STATUSES),
        ),
        Index("ix_pairing_venue_id", "venue_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    venue_id: int = Field(sa_column=Column(IdType, ForeignKey("venue.id"), nullable=False))
    starts_on: date = Field(sa_column=Column(Date, nullable=False))
    ends_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    note: str = Field(default="", sa_column=Column(String(500), nullable=False))
    proposed_by: str = Field(sa_column=Column(String(10), nullable=False))  # school | venue
    status: str = Field(sa_column=Column(String(10), nullable=False))
    school_confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    venue_confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    close_reason: str = Field(default="", sa_column=Column(String(200), nullable=False))
    created_by: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
