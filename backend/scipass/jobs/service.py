"""Reading jobs and their results: only the caller who queued a job, and the admins of the
caller's organisation, see it; anyone else gets "not found"."""

from __future__ import annotations

from datetime import datetime
from typing import BinaryIO

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select

from scipass.core.auth import Principal, Role
from scipass.core.pagination import PageParams, count_rows
from scipass.jobs.errors import JobNotDone, JobNotFound, JobResultGone
from scipass.jobs.models import Job, JobStatus
from scipass.jobs.storage import ResultStore

ORG_ADMINS = (Role.school_admin, Role.venue_admin)


def _readable(actor: Principal) -> ColumnElement[bool]:
    mine = col(Job.owner_subject) == actor.subject
    if actor.role in ORG_ADMINS and actor.org is not None:
        return or_(mine, col(Job.owner_org) == actor.org)
    return mine


def get(session: Session, *, actor: Principal, job_id: int) -> Job:
    job = session.exec(select(Job).where(Job.id == job_id, _readable(actor))).first()
    if job is None:
        raise JobNotFound()
    return job


def list_jobs(session: Session, *, actor: Principal, page: PageParams) -> tuple[list[Job], int]:
    query = select(Job).where(_readable(actor))
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(Job.id).desc()).limit(page.limit).offset(page.offset)
    ).all()
    return list(rows), total


def open_result(
    session: Session, *, actor: Principal, store: ResultStore, job_id: int, now: datetime
) -> tuple[Job, BinaryIO]:
    """A finished job's file: 409 while it runs, 410 once expired (or gone from the store)."""
    job = get(session, actor=actor, job_id=job_id)
    if job.status in (JobStatus.queued.value, JobStatus.running.value):
        raise JobNotDone()
    if job.status == JobStatus.failed.value:
        raise JobNotDone("任务失败，没有可下载的文件", "The job failed; there is no file")
    if (
        job.status == JobStatus.expired.value
        or job.result_key is None
        or (job.expires_at is not None and job.expires_at <= now)
    ):
        raise JobResultGone()
    try:
        return job, store.open(job.result_key)
    except FileNotFoundError:
        raise JobResultGone() from None
