"""Exports of a yearly edition of the science directory (科普地图) as CSV or XLSX, through the
one exporter (:mod:`scipass.jobs.exporter`): answered directly (anyone may read a published
edition) up to ``SCIPASS_EXPORT_SYNC_ROW_LIMIT`` venues, or made by a job that a signed-in
caller queues (``directory-edition-export``) and downloads. An edition lists venues, not
people: its exports are not audited."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from scipass.core.auth import Principal
from scipass.core.db import Database
from scipass.jobs import queue as job_queue
from scipass.jobs.exporter import (
    ExportFile,
    FileFormat,
    TableExport,
    export_directly,
    run_table_export,
)
from scipass.jobs.models import Job
from scipass.jobs.queue import JobContext, JobKind, JobKinds, JobResult
from scipass.venue import service as venue_service


def describe_edition_export(
    session: Session, *, edition_id: int, file_format: FileFormat
) -> TableExport:
    edition = venue_service.get_edition(session, edition_id)
    stem = f"directory-{edition.region_code}-{edition.year}"
    return TableExport(
        header=[label for _, label in venue_service.EXPORT_COLUMNS],
        rows=venue_service.edition_rows(edition),
        total=len(edition.entries),
        filename=f"{edition.title}.{file_format.value}",
        plain_filename=f"{stem}.{file_format.value}",
        sheet_title=str(edition.year),
        audit=None,
    )


def job_endpoint(edition_id: int) -> str:
    return f"/api/v1/directory-editions/{edition_id}/exports"


def edition_export_now(
    database: Database, *, edition_id: int, file_format: FileFormat, row_limit: int
) -> ExportFile:
    return export_directly(
        database,
        file_format=file_format,
        prepare=lambda session: describe_edition_export(
            session, edition_id=edition_id, file_format=file_format
        ),
        row_limit=row_limit,
        job_endpoint=job_endpoint(edition_id),
    )


def run_edition_export_job(context: JobContext) -> JobResult:
    """The ``directory-edition-export`` job."""
    file_format = FileFormat(context.params["format"])
    edition_id = int(context.params["edition_id"])
    return run_table_export(
        context,
        file_format=file_format,
        prepare=lambda session: describe_edition_export(
            session, edition_id=edition_id, file_format=file_format
        ),
    )


EDITION_EXPORT_KIND = JobKind("directory-edition-export", run_edition_export_job)


def queue_edition_export(
    session: Session,
    *,
    actor: Principal,
    edition_id: int,
    file_format: FileFormat,
    now: datetime,
) -> Job:
    """Queue the export of an edition that exists (checked now)."""
    venue_service.get_edition(session, edition_id)
    return job_queue.enqueue(
        session,
        kind=EDITION_EXPORT_KIND,
        params={"edition_id": edition_id, "format": file_format.value},
        owner=actor,
        now=now,
    )


def register_kinds(kinds: JobKinds) -> None:
    kinds.register(EDITION_EXPORT_KIND.name, EDITION_EXPORT_KIND.handler)
