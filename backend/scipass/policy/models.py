"""Bureaus' overrides of the shipped policy packs (``policy_override``), append-only.

A row is one version of a region's setting of one rule: ``(region_code, rule_id, version)`` is
unique and versions count 1, 2, 3 ... per region and rule. A column left NULL keeps what
applies above (the nearest ancestor region's override, else the pack files). The latest
version of a region applies to it and to its sub-regions, unless a sub-region has its own
(:mod:`scipass.policy.effective`). Nothing is ever updated or deleted: the history is the
audit of who changed which number, when and why.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime


class PolicyOverride(SQLModel, table=True):
    __tablename__ = "policy_override"
    __table_args__ = (
        UniqueConstraint("region_code", "rule_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "threshold_min IS NULL OR threshold_min >= 0", name="threshold_min_not_negative"
        ),
        CheckConstraint(
            "threshold_max IS NULL OR threshold_max >= 0", name="threshold_max_not_negative"
        ),
        CheckConstraint(
            "threshold_min IS NULL OR threshold_max IS NULL OR threshold_max >= threshold_min",
            name="threshold_range",
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    region_code: str = Field(sa_column=Column(String(6), ForeignKey("region.code"), nullable=False))
    rule_id: str = Field(sa_column=Column(String(64), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    threshold_min: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    threshold_max: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    enabled: bool | None = Field(default=None, sa_column=Column(Boolean, nullable=True))
    reason: str = Field(sa_column=Column(String(200), nullable=False))
    created_by: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
