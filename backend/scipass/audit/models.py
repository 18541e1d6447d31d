"""The audit log: who did what to whom, kept for the yearly audit of minors' data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, String, Text
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime
from scipass.privacy.categories import DataCategory, personal


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_school_id_at", "school_id", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    action: str = Field(sa_column=Column(String(40), nullable=False))
    actor: str | None = Field(
        default=None,
        sa_column=Column(String(40), nullable=True, info=personal(DataCategory.audit_trail)),
    )
    actor_role: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    object_type: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    object_id: str | None = Field(
        default=None,
        sa_column=Column(String(40), nullable=True, info=personal(DataCategory.audit_trail)),
    )
    school_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    region_code: str | None = Field(default=None, sa_column=Column(String(6), nullable=True))
    client_ip: str | None = Field(
        default=None,
        sa_column=Column(String(45), nullable=True, info=personal(DataCategory.network_address)),
    )
    detail: str = Field(
        default="{}",
        sa_column=Column(Text, nullable=False, info=personal(DataCategory.audit_trail)),
    )
