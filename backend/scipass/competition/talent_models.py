"""创新后备人才 tracking (002 二.(四): 建立科技创新后备人才跟踪档案): a school or a bureau marks
a pupil as a tracked talent, with a reason (an award, say), and ends the tracking when it
ends. A pupil is tracked at most once at a time (a partial unique index); the history stays.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, text
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime
from scipass.privacy.categories import DataCategory, personal

OPEN_TRACKING = "ended_at IS NULL"


class TalentTracking(SQLModel, table=True):
    __tablename__ = "talent_tracking"
    __table_args__ = (
        Index(
            "uq_talent_tracking_open_student",
            "student_id",
            unique=True,
            sqlite_where=text(OPEN_TRACKING),
            postgresql_where=text(OPEN_TRACKING),
        ),
        Index("ix_talent_tracking_school_id", "school_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    student_id: int = Field(sa_column=Column(IdType, ForeignKey("student.id"), nullable=False))
    # The pupil's school when the tracking began (a bureau lists its region's by it).
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    reason: str = Field(
        sa_column=Column(String(200), nullable=False, info=personal(DataCategory.talent_tracking))
    )
    started_by: str = Field(sa_column=Column(String(40), nullable=False))
    started_by_role: str = Field(sa_column=Column(String(20), nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    ended_by: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    end_reason: str = Field(default="", sa_column=Column(String(200), nullable=False))
