"""Reviews (中期评估, 终期评估) of a region's schools against its rules: named periods a bureau
opens and freezes (issue 19 point 4; the documents' reviews: 000 四.3, 001 四.(三), 004 二.14).

An open review is evaluated live. Freezing it stores every row it showed at that moment
(``policy_review_result``: the rule's words, the figure, the threshold, met or not, what was
missing, the evidence kept with its total), so a frozen review keeps its figures when records
change later; it is frozen once (a conditional update) and never changes after.
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
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime


class ReviewKind(StrEnum):
    mid_term = "mid_term"  # 中期评估
    final = "final"  # 终期评估
    yearly = "yearly"  # 年度评价 (004 二.14)
    other = "other"


class ReviewStatus(StrEnum):
    open = "open"
    frozen = "frozen"


class PolicyReview(SQLModel, table=True):
    __tablename__ = "policy_review"
    __table_args__ = (
        UniqueConstraint("region_code", "name"),
        CheckConstraint("semester IN ('autumn', 'spring')", name="semester_known"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    region_code: str = Field(sa_column=Column(String(6), ForeignKey("region.code"), nullable=False))
    bureau_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("bureau.id"), nullable=True)
    )
    name: str = Field(sa_column=Column(String(60), nullable=False))
    kind: str = Field(sa_column=Column(String(10), nullable=False))
    school_year: int = Field(sa_column=Column(Integer, nullable=False))
    semester: str = Field(sa_column=Column(String(8), nullable=False))
    status: str = Field(default=ReviewStatus.open, sa_column=Column(String(8), nullable=False))
    # The day the figures were counted up to: when frozen, the day of freezing.
    as_of: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    schools: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    created_by: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    frozen_by: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    frozen_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class PolicyReviewResult(SQLModel, table=True):
    __tablename__ = "policy_review_result"
    __table_args__ = (
        Index("ix_policy_review_result_review_id_rule_id", "review_id", "rule_id"),
        Index("ix_policy_review_result_school_id", "school_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    review_id: int = Field(sa_column=Column(IdType, ForeignKey("policy_review.id"), nullable=False))
    rule_id: str = Field(sa_column=Column(String(64), nullable=False))
    description: str = Field(sa_column=Column(String(300), nullable=False))
    source: str = Field(sa_column=Column(String(80), nullable=False))
    period: str = Field(sa_column=Column(String(12), nullable=False))
    school_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("school.id"), nullable=True)
    )
    school_name: str = Field(sa_column=Column(String(100), nullable=False))
    region_code: str = Field(sa_column=Column(String(6), nullable=False))
    district_name: str = Field(sa_column=Column(String(50), nullable=False))
    area: str = Field(sa_column=Column(String(10), nullable=False))
    window_start: date = Field(sa_column=Column(Date, nullable=False))
    window_end: date = Field(sa_column=Column(Date, nullable=False))
    figure: int = Field(sa_column=Column(Integer, nullable=False))
    threshold: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    met: bool | None = Field(default=None, sa_column=Column(Boolean, nullable=True))
    missing: str = Field(sa_column=Column(String(300), nullable=False))
    evidence_total: int = Field(sa_column=Column(Integer, nullable=False))
    weeks_asked: int = Field(sa_column=Column(Integer, nullable=False))
    due: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    evidence: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
