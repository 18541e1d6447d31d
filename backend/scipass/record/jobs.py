"""The record domain's scheduled jobs (registered with the app's
:class:`scipass.core.jobs.Jobs`)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from scipass.core.config import Settings
from scipass.core.jobs import Jobs
from scipass.jobs.queue import JobKinds
from scipass.record import evidence_cleanup, record_file, withdrawal
from scipass.record import exports as record_exports
from scipass.record import notices as record_notices


def archive_records(session: Session, now: datetime, settings: Settings) -> int:
    """Archive the records whose public notice closed with no open objection."""
    return record_notices.archive_due(session, now=now)


def clean_evidence(session: Session, now: datetime, settings: Settings) -> int:
    """Clean, a portion at a time, the evidence files stored before uploads were cleaned."""
    return evidence_cleanup.clean_stored(session, settings=settings, now=now)


def register_kinds(kinds: JobKinds) -> None:
    """The record domain's queued jobs: ``record-export`` (CSV/XLSX of any size) and
    ``record-files`` (many pupils' PDF files as one ZIP)."""
    record_exports.register_kinds(kinds)
    kinds.register(record_file.BULK_FILES_KIND.name, record_file.BULK_FILES_KIND.handler)


def register(jobs: Jobs) -> None:
    jobs.register("archive-records", archive_records)
    jobs.register("clean-evidence", clean_evidence)


def register_consent_effects() -> None:
    """Withdrawing ``photos`` deletes unarchived evidence files; withdrawing
    ``participation_record`` withdraws the records still open."""
    withdrawal.register_consent_effects()
