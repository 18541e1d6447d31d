"""The job queue's tables: queued work (``job``) and the schedule of the periodic jobs
(``job_schedule``). Both live in the database the service already runs, so every worker on
every host sees the same queue and the same schedule."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime
from scipass.privacy.categories import DataCategory, personal


class JobStatus(StrEnum):
    # waiting for a worker (again, after a lost worker's lease ran out; or, put back after a
    # transient outage, not before ``lease_until``: scipass.jobs.queue.retry_later)
    queued = "queued"
    running = "running"  # a worker holds it until ``lease_until``
    done = "done"  # its result is stored until ``expires_at``
    failed = "failed"  # ``error_code`` says why; nothing is stored
    expired = "expired"  # done, and its result has since been deleted


class Job(SQLModel, table=True):
    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_status_id", "status", "id"),
        Index("ix_job_owner_subject", "owner_subject", "id"),
        Index("ix_job_expires_at", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    params: str = Field(sa_column=Column(Text, nullable=False))  # JSON, the kind's own
    # Who asked: only they, and their organisation's admins, read the job and its result.
    owner_subject: str = Field(sa_column=Column(String(40), nullable=False))
    owner_role: str = Field(sa_column=Column(String(20), nullable=False))
    owner_org: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    status: str = Field(sa_column=Column(String(10), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    max_attempts: int = Field(sa_column=Column(Integer, nullable=False))
    worker: str | None = Field(default=None, sa_column=Column(String(80), nullable=True))
    lease_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    progress_done: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    progress_total: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    started_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # The result: a file in the result store under ``result_key``.
    result_key: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    result_name: str | None = Field(
        default=None,
        sa_column=Column(String(200), nullable=True, info=personal(DataCategory.export_file)),
    )
    result_plain_name: str | None = Field(
        default=None,
        sa_column=Column(String(200), nullable=True, info=personal(DataCategory.export_file)),
    )
    result_media_type: str | None = Field(
        default=None, sa_column=Column(String(100), nullable=True)
    )
    result_size: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    row_count: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # An export of pupils' records to the 综评 platform: the rows it left out for want of the
    # guardian's ``record_export`` consent (scipass.jobs.exporter); NULL for other jobs.
    withheld_count: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    error_code: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    # PostgreSQL: the primary's WAL position when the job was queued (``pg_lsn`` as text,
    # such as ``0/16B3748``). An export read on the read replica waits until the replica has
    # replayed it (scipass.core.db, Database.snapshot_session), so the file holds everything
    # committed before the job was asked for. NULL on SQLite.
    primary_lsn: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))


class JobSchedule(SQLModel, table=True):
    """When each periodic job is next due. A worker runs one only after moving ``due_at``
    on by a conditional update, so each runs once per interval across all workers; a worker
    that dies while running one blocks nothing (the next is due on time)."""

    __tablename__ = "job_schedule"

    name: str = Field(sa_column=Column(String(40), primary_key=True))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_started_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    last_worker: str | None = Field(default=None, sa_column=Column(String(80), nullable=True))
