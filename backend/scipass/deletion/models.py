"""Deletion requests (PIPL art. 47; 《儿童个人信息网络保护规定》 art. 20): a guardian asks to
delete a linked child's data, a pupil of 14 and over their own. The scheduled job
``carry-out-deletions`` carries a request out; what it deleted is in the deletion log (the
audit log's ``data_deleted``, reason ``deletion_request:<id>``), never the content."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, String, text
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime

OPEN = "carried_out_at IS NULL"


class DeletionStatus(StrEnum):
    pending = "pending"  # recorded, to be carried out by the due date
    carried_out = "carried_out"


class DeletionRequest(SQLModel, table=True):
    __tablename__ = "deletion_request"
    __table_args__ = (
        Index("ix_deletion_request_school_id_requested_at", "school_id", "requested_at"),
        # One open request per pupil: asking again answers the open one.
        Index(
            "uq_deletion_request_open",
            "student_id",
            unique=True,
            sqlite_where=text(OPEN),
            postgresql_where=text(OPEN),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    student_id: int = Field(sa_column=Column(IdType, ForeignKey("student.id"), nullable=False))
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    requested_by: str = Field(sa_column=Column(String(40), nullable=False))  # subject
    requested_by_role: str = Field(sa_column=Column(String(20), nullable=False))
    requested_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str = Field(sa_column=Column(String(12), nullable=False))
    carried_out_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
