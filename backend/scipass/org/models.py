"""Organisations: administrative regions, schools and science venues.

Regions use the GB/T 2260 six-digit codes. Coordinates of venues are GCJ-02 (the datum of
WeChat's ``wx.getLocation`` with ``type: 'gcj02'`` and of Chinese map services), stored as
longitude/latitude in degrees.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime


class RegionLevel(StrEnum):
    province = "province"
    city = "city"
    county = "county"


class Stage(StrEnum):
    primary = "primary"
    junior = "junior"
    senior = "senior"
    vocational = "vocational"


class SchoolArea(StrEnum):
    urban = "urban"
    rural = "rural"


class VenueKind(StrEnum):
    science_museum = "science_museum"
    museum = "museum"
    science_base = "science_base"
    youth_centre = "youth_centre"
    university_lab = "university_lab"
    research_institute = "research_institute"
    enterprise = "enterprise"
    nature_school = "nature_school"
    other = "other"


STAGE_ORDER = tuple(Stage)


def encode_stages(stages: list[Stage] | list[str]) -> str:
    """Stages as a comma list in school order ("primary,junior"), the stored form."""
    wanted = {Stage(s) for s in stages}
    return ",".join(s.value for s in STAGE_ORDER if s in wanted)


def decode_stages(text: str) -> list[Stage]:
    return [Stage(part) for part in text.split(",") if part]


class Region(SQLModel, table=True):
    __tablename__ = "region"
    __table_args__ = (
        CheckConstraint("length(code) = 6", name="code_six_digits"),
        Index("ix_region_parent_code", "parent_code"),
    )

    code: str = Field(sa_column=Column(String(6), primary_key=True))
    name: str = Field(sa_column=Column(String(50), nullable=False))
    level: str = Field(sa_column=Column(String(10), nullable=False))
    parent_code: str | None = Field(
        default=None, sa_column=Column(String(6), ForeignKey("region.code"), nullable=True)
    )
    # Length of a public notice (公示) of participation records, in working days; NULL takes
    # the parent region's setting (and 5 where no region up the line sets one).
    notice_working_days: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))


class School(SQLModel, table=True):
    __tablename__ = "school"
    __table_args__ = (
        UniqueConstraint("region_code", "name"),
        Index("ix_school_region_code", "region_code"),
        # 城市主城区 (004 二.4) lies in a city: a school of the main urban district is urban.
        CheckConstraint(
            "NOT main_urban_district OR area = 'urban'", name="main_urban_district_is_urban"
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    region_code: str = Field(sa_column=Column(String(6), ForeignKey("region.code"), nullable=False))
    stages: str = Field(sa_column=Column(String(60), nullable=False))
    area: str = Field(sa_column=Column(String(10), nullable=False))
    # Flags the policy rules read (set by the region's bureau): 边远地区 (003 三.(一), the
    # mobile science museum) and 城市主城区 (004 二.4, pairing with a venue).
    remote: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )
    main_urban_district: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )
    address: str = Field(default="", sa_column=Column(String(200), nullable=False))
    # 教师代为确认: off by default (DOMAIN-NOTES §1.3: teachers guide, they do not record for
    # pupils); a school admin switches it on for pupils with no phone and no bound guardian.
    teacher_attestation: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )
    # 只参加白名单竞赛 (004 二.10): the school's pupils may enter whitelisted competitions only.
    whitelisted_competitions_only: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ReviewStatus(StrEnum):
    """Where a venue's pending profile change stands."""

    draft = "draft"  # being edited by the venue
    pending = "pending"  # submitted, waiting for the bureau
    rejected = "rejected"  # sent back with a note


class Venue(SQLModel, table=True):
    """A science venue. The columns from ``services`` on are its directory profile, as last
    approved by the bureau; a change the venue is preparing lives in ``draft`` until then."""

    __tablename__ = "venue"
    __table_args__ = (
        UniqueConstraint("region_code", "name"),
        Index("ix_venue_region_code", "region_code"),
        Index("ix_venue_listed_region_code", "listed", "region_code"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    kind: str = Field(sa_column=Column(String(30), nullable=False))
    region_code: str = Field(sa_column=Column(String(6), ForeignKey("region.code"), nullable=False))
    address: str = Field(default="", sa_column=Column(String(200), nullable=False))
    longitude: float = Field(nullable=False)  # GCJ-02
    latitude: float = Field(nullable=False)  # GCJ-02
    phone: str = Field(default="", sa_column=Column(String(30), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # --- directory profile (003 三.(二): 服务内容、设施条件、地址及联系电话) ---
    services: str = Field(default="", sa_column=Column(Text, nullable=False))
    facilities: str = Field(default="", sa_column=Column(Text, nullable=False))
    is_free: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default="1")
    )
    fee_note: str = Field(default="", sa_column=Column(String(200), nullable=False))
    stages: str = Field(
        default="primary,junior,senior",
        sa_column=Column(String(60), nullable=False, server_default="primary,junior,senior"),
    )
    reservation_required: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )
    # {"1": [["09:00", "17:00"]], ... "7": []}: ISO weekday -> opening periods, Beijing time
    weekly_hours: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    # "1111100": open on Monday..Sunday, derived from weekly_hours for filtering in SQL
    open_weekdays: str = Field(
        default="0000000", sa_column=Column(String(7), nullable=False, server_default="0000000")
    )
    photos: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    listed: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )
    approved_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # --- a profile change under preparation or review ---
    draft: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    review_status: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    review_note: str = Field(default="", sa_column=Column(String(200), nullable=False))
    submitted_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    reviewed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class Bureau(SQLModel, table=True):
    """An education bureau or science association; sees the schools of its region and below."""

    __tablename__ = "bureau"
    __table_args__ = (UniqueConstraint("region_code", "name"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    region_code: str = Field(
        sa_column=Column(String(6), ForeignKey("region.code"), nullable=False, index=True)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
