"""Organisations: administrative regions, schools and science venues.

Regions use the GB/T 2260 six-digit codes. Coordinates of venues are GCJ-02 (the datum of
WeChat's ``wx.getLocation`` with ``type: 'gcj02'`` and of Chinese map services), stored as
longitude/latitude in degrees.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from scipass.core.db import UTCDateTime


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


class School(SQLModel, table=True):
    __tablename__ = "school"
    __table_args__ = (
        UniqueConstraint("region_code", "name"),
        Index("ix_school_region_code", "region_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    region_code: str = Field(sa_column=Column(String(6), ForeignKey("region.code"), nullable=False))
    stages: str = Field(sa_column=Column(String(60), nullable=False))
    area: str = Field(sa_column=Column(String(10), nullable=False))
    address: str = Field(default="", sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Venue(SQLModel, table=True):
    __tablename__ = "venue"
    __table_args__ = (
        UniqueConstraint("region_code", "name"),
        Index("ix_venue_region_code", "region_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    kind: str = Field(sa_column=Column(String(30), nullable=False))
    region_code: str = Field(sa_column=Column(String(6), ForeignKey("region.code"), nullable=False))
    address: str = Field(default="", sa_column=Column(String(200), nullable=False))
    longitude: float = Field(nullable=False)  # GCJ-02
    latitude: float = Field(nullable=False)  # GCJ-02
    phone: str = Field(default="", sa_column=Column(String(30), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Bureau(SQLModel, table=True):
    """An education bureau or science association; sees the schools of its region and below."""

    __tablename__ = "bureau"
    __table_args__ = (UniqueConstraint("region_code", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    region_code: str = Field(
        sa_column=Column(String(6), ForeignKey("region.code"), nullable=False, index=True)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
