"""What a venue offers beyond its profile: reservable resources, exception dates in its
opening hours, and the yearly directory editions a bureau publishes.

The venue's own row and profile live in :mod:`scipass.org.models` (``Venue``)."""

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
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime

# 003 三.(二): instruments bought with public money worth 500k yuan or more open to schools
# by reservation (有序预约).
MAJOR_INSTRUMENT_YUAN = 500_000


class ResourceKind(StrEnum):
    lab = "lab"  # 实验室
    instrument = "instrument"  # 科学仪器设施
    show = "show"  # 球幕 / 天象 / 科普剧场次
    exhibition = "exhibition"  # 专题展厅
    other = "other"


class VenueResource(SQLModel, table=True):
    """A reservable part of a venue with its own time slots: a lab, an instrument, a show."""

    __tablename__ = "venue_resource"
    __table_args__ = (
        UniqueConstraint("venue_id", "name"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    venue_id: int = Field(
        sa_column=Column(IdType, ForeignKey("venue.id"), nullable=False, index=True)
    )
    name: str = Field(sa_column=Column(String(100), nullable=False))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    value_yuan: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    capacity: int = Field(sa_column=Column(Integer, nullable=False))
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class VenueHoursException(SQLModel, table=True):
    """A date on which a venue keeps other hours than its week: closed (no periods) or
    open differently (a holiday opening, a science-day evening)."""

    __tablename__ = "venue_hours_exception"
    __table_args__ = (UniqueConstraint("venue_id", "on_date"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    venue_id: int = Field(sa_column=Column(IdType, ForeignKey("venue.id"), nullable=False))
    on_date: date = Field(sa_column=Column(Date, nullable=False))
    closed: bool = Field(sa_column=Column(Boolean, nullable=False))
    periods: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    note: str = Field(default="", sa_column=Column(String(100), nullable=False))


class DirectoryEdition(SQLModel, table=True):
    """The venue directory (科普地图) of a region for a year, frozen when the bureau publishes it
    (003 三.(二): 每年组织对“科普地图”进行更新和发布)."""

    __tablename__ = "directory_edition"
    __table_args__ = (UniqueConstraint("region_code", "year"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    region_code: str = Field(sa_column=Column(String(6), ForeignKey("region.code"), nullable=False))
    year: int = Field(sa_column=Column(Integer, nullable=False))
    title: str = Field(sa_column=Column(String(100), nullable=False))
    bureau_id: int = Field(sa_column=Column(IdType, ForeignKey("bureau.id"), nullable=False))
    published_by: str = Field(sa_column=Column(String(40), nullable=False))
    published_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    venue_count: int = Field(sa_column=Column(Integer, nullable=False))
    entries: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
