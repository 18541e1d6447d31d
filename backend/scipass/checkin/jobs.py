"""Check-in's scheduled jobs (registered with the app's :class:`scipass.core.jobs.Jobs`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from scipass.checkin import lists as checkin_lists
from scipass.checkin import visits as checkin_visits
from scipass.core.config import Settings
from scipass.core.jobs import Jobs
from scipass.jobs.queue import JobKinds


def close_visits(session: Session, now: datetime, settings: Settings) -> int:
    """Close the visits left open after their activity (or their day) ended."""
    return checkin_visits.close_due_visits(session, now=now)


def purge_telemetry(session: Session, now: datetime, settings: Settings) -> int:
    """Erase scan locations older than ``SCIPASS_TELEMETRY_RETENTION_DAYS``."""
    before = now - timedelta(days=settings.telemetry_retention_days)
    return checkin_visits.purge_telemetry(session, before=before)


def register_kinds(kinds: JobKinds) -> None:
    """Check-in's queued jobs: ``attendee-export``."""
    kinds.register(
        checkin_lists.ATTENDEE_EXPORT_KIND.name, checkin_lists.ATTENDEE_EXPORT_KIND.handler
    )


def register(jobs: Jobs) -> None:
    jobs.register("close-visits", close_visits)
    jobs.register("purge-telemetry", purge_telemetry)
