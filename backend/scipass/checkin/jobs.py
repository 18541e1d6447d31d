"""Check-in's scheduled jobs (registered with the app's :class:`scipass.core.jobs.Jobs`), and
its effect of a withdrawn ``location`` consent (:mod:`scipass.consent.effects`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from scipass.audit import service as audit_service
from scipass.checkin import lists as checkin_lists
from scipass.checkin import visits as checkin_visits
from scipass.consent import effects as consent_effects
from scipass.consent.models import Purpose
from scipass.core import ratelimit
from scipass.core.config import Settings
from scipass.core.jobs import Jobs
from scipass.jobs.queue import JobKinds


def close_visits(session: Session, now: datetime, settings: Settings) -> int:
    """Close the visits left open after their activity (or their day) ended."""
    return checkin_visits.close_due_visits(session, now=now)


def purge_telemetry(session: Session, now: datetime, settings: Settings) -> int:
    """The retention purge: erase what is older than its period (README, "Children's data").

    * scan locations, their accuracy and distance: ``SCIPASS_TELEMETRY_RETENTION_DAYS`` (the
      scan events stay, with their result, reason and times);
    * client addresses in the audit log: ``SCIPASS_CLIENT_ADDRESS_RETENTION_DAYS``;
    * rate-limit counters (their keys name addresses and login names):
      ``SCIPASS_RATE_LIMIT_RETENTION_HOURS``.

    A run that erased something is logged (``data_purged``: how many of each kind, never the
    content); a second run erases nothing. Returns how many rows it changed."""
    done = {
        "scan_location": checkin_visits.purge_telemetry(
            session, before=now - timedelta(days=settings.telemetry_retention_days)
        ),
        "client_address": audit_service.clear_client_addresses(
            session, before=now - timedelta(days=settings.client_address_retention_days)
        ),
        "rate_limit_counter": ratelimit.purge(
            session, before=now - timedelta(hours=settings.rate_limit_retention_hours)
        ),
    }
    total = sum(done.values())
    if total:
        audit_service.record(
            session,
            action=audit_service.Action.data_purged,
            at=now,
            actor_subject="system",
            reason="retention",
            counts={kind: count for kind, count in done.items() if count},
        )
    return total


def register_kinds(kinds: JobKinds) -> None:
    """Check-in's queued jobs: ``attendee-export``."""
    kinds.register(
        checkin_lists.ATTENDEE_EXPORT_KIND.name, checkin_lists.ATTENDEE_EXPORT_KIND.handler
    )


def register(jobs: Jobs) -> None:
    jobs.register("close-visits", close_visits)
    jobs.register("purge-telemetry", purge_telemetry)


def register_consent_effects() -> None:
    """Withdrawing ``location`` erases the pupil's stored scan locations and distances."""
    consent_effects.register(Purpose.location, "scan_location", checkin_visits.erase_locations_of)
