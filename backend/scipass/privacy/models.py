"""The incident log (个人信息安全事件台账) the platform admin keeps: each incident touching
pupils' or guardians' personal information, with the categories it touched (the keys of
:mod:`scipass.privacy.inventory`), how many children (under 14) and minors (under 18) it
affected, what was done, and when it was reported to the authority and closed. It feeds the
yearly audit report (《未成年人网络保护条例》 art. 37; :mod:`scipass.privacy.report`).

A bureau reads the incidents of its region (``region_code``, set from the school when one is
named); an incident of the whole platform names no region.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime


class PrivacyIncident(SQLModel, table=True):
    __tablename__ = "privacy_incident"
    __table_args__ = (
        Index("ix_privacy_incident_occurred_at", "occurred_at"),
        Index("ix_privacy_incident_region_code_occurred_at", "region_code", "occurred_at"),
        CheckConstraint(
            "affected_children >= 0 AND affected_minors >= affected_children",
            name="affected_counts",
        ),
        CheckConstraint("discovered_at >= occurred_at", name="discovered_after_occurred"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    discovered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_by: str = Field(sa_column=Column(String(40), nullable=False))  # subject
    title: str = Field(sa_column=Column(String(100), nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    affected_children: int = Field(sa_column=Column(Integer, nullable=False))  # under 14
    # under 18, children too
    affected_minors: int = Field(sa_column=Column(Integer, nullable=False))
    measures: str = Field(default="", sa_column=Column(Text, nullable=False))
    reported_to_authority_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    school_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("school.id"), nullable=True)
    )
    region_code: str | None = Field(
        default=None, sa_column=Column(String(6), ForeignKey("region.code"), nullable=True)
    )
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
