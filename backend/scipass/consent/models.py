"""Guardian consent for students under 14 (PIPL art. 28, 31), and for volunteering under 18:
append-only, per purpose."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime
from scipass.privacy.categories import DataCategory, personal


class Purpose(StrEnum):
    participation_record = "participation_record"  # 写实记录: check-ins, registrations, records
    record_export = "record_export"  # export into the evaluation platform
    location = "location"  # geofenced self check-in
    photos = "photos"  # evidence photos
    notifications = "notifications"  # subscribe messages
    # 志愿服务: volunteer sign-ups and service records; asked up to 18, not 14 (中国注册志愿者
    # 管理办法: volunteers of 14 to 18 need a guardian's agreement; DOMAIN-NOTES §1.5).
    volunteering = "volunteering"


class Decision(StrEnum):
    grant = "grant"
    refuse = "refuse"
    withdraw = "withdraw"


class Channel(StrEnum):
    mini_program = "mini_program"  # the guardian, in the mini-program
    paper = "paper"  # a signed paper form, recorded by the school


class ConsentRecord(SQLModel, table=True):
    __tablename__ = "consent_record"
    __table_args__ = (Index("ix_consent_record_student_id_purpose", "student_id", "purpose", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    student_id: int = Field(sa_column=Column(IdType, ForeignKey("student.id"), nullable=False))
    purpose: str = Field(
        sa_column=Column(String(30), nullable=False, info=personal(DataCategory.consent))
    )
    decision: str = Field(
        sa_column=Column(String(10), nullable=False, info=personal(DataCategory.consent))
    )
    notice_version: str = Field(sa_column=Column(String(20), nullable=False))
    channel: str = Field(
        sa_column=Column(String(20), nullable=False, info=personal(DataCategory.consent))
    )
    guardian_link_id: int | None = Field(
        default=None,
        sa_column=Column(
            IdType,
            ForeignKey("guardian_link.id"),
            nullable=True,
            info=personal(DataCategory.guardian),
        ),
    )
    guardian_name: str | None = Field(
        default=None,
        sa_column=Column(String(30), nullable=True, info=personal(DataCategory.guardian)),
    )
    recorded_by: str = Field(sa_column=Column(String(40), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
